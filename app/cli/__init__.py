"""The `headwater` command line."""

from app.cli.commands import cli, main

__all__ = ["cli", "main"]
