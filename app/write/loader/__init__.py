"""The bulk loader: crawler ingest results (JSON Lines) into the same write path as the API."""
