"""Lifecycle of what the service holds: takedown (purge), garbage collection of the content
store, backup and restore, retiring a collection (docs/operations.md)."""
