"""What every command shares: reading the settings, or stopping with the reason."""

from __future__ import annotations

import typer

from app.settings import Settings, SettingsError, load_settings

__all__ = ["settings_or_exit"]


def settings_or_exit() -> Settings:
    """The settings; an invalid one stops the command with exit code 2, naming it."""
    try:
        return load_settings()
    except SettingsError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None
