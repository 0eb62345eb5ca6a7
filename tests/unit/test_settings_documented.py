"""Every setting is documented in the README's configuration table."""

from __future__ import annotations

from app.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = []
    for name in Settings.model_fields:
        var = "DATABASE_URL" if name == "database_url" else f"HEADWATER_{name.upper()}"
        if f"`{var}`" not in readme:
            missing.append(var)
    assert missing == []
