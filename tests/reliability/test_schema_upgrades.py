"""Schema upgrades on SQLite are atomic and safe to run from several processes at once (the
first start of ``qala serve --workers N`` on a new file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import fetch, table_names
from sqlalchemy.engine import Connection

from qala.store import migrate
from qala.store.urls import DatabaseURL


def test_processes_upgrading_a_new_database_together_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'qala.db'}"
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "qala.cli", "db", "upgrade", "--db", url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120)[0].decode(errors="replace") for p in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    heads = fetch(url, "SELECT version_num FROM alembic_version")
    assert len(heads) == len(set(heads)) > 1
    assert {"tenants", "entities", "audit_log"} <= set(table_names(url))


def test_an_interrupted_upgrade_leaves_no_half_built_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = DatabaseURL(f"sqlite:///{tmp_path / 'qala.db'}")
    complete = migrate._upgrade

    def interrupted(connection: Connection, revision: str) -> None:
        complete(connection, "0001")  # the hub's tables are created…
        raise KeyboardInterrupt  # …then the process is stopped

    monkeypatch.setattr(migrate, "_upgrade", interrupted)
    with pytest.raises(KeyboardInterrupt):
        migrate.upgrade(url)
    assert table_names(str(url)) == []
    assert fetch(str(url), "SELECT name FROM sqlite_master WHERE name = 'alembic_version'") == []

    monkeypatch.setattr(migrate, "_upgrade", complete)
    migrate.upgrade(url)  # the next start finds a clean slate and upgrades
    assert "entities" in table_names(str(url))
