"""Headwater: a ResourceSync Source server with change notifications and OAI-PMH."""
