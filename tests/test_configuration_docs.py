"""Every setting the server reads is documented: docs/configuration.md names each one (device
ingestion's own in docs/iot.md), so an operator never has to read the source to find one."""

from __future__ import annotations

from pathlib import Path

from qala.config import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_setting_is_in_the_configuration_guide() -> None:
    guide = (DOCS / "configuration.md").read_text(encoding="utf-8")
    iot = (DOCS / "iot.md").read_text(encoding="utf-8")
    missing = [
        f"QALA_{name.upper()}"
        for name in Settings.model_fields
        if f"QALA_{name.upper()}" not in (iot if name.startswith(("mqtt_", "iot_")) else guide)
    ]
    assert missing == []
