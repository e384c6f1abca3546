"""`qala backup` / `qala restore`: an online, transaction-consistent snapshot of every table,
restorable into either backend; damaged or foreign files and occupied targets are refused
without touching anything."""

from __future__ import annotations

import asyncio
import copy
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from reliability_support import (
    ServerProcess,
    columns_of,
    create_admin_key,
    dump,
    fetch,
    normal,
    table_names,
)
from typer.testing import CliRunner

from ngsi import BASE, point, prop
from qala.app import create_app
from qala.backup import backup, restore
from qala.backup.fileformat import BackupWriter, Header, TableSpec
from qala.cli import app as cli_app
from qala.config import Settings
from qala.hub.model import us_to_iso
from qala.store import migrate
from qala.store.urls import DatabaseURL

TENANT = "astana"
COUNTER = "https://uri.etsi.org/ngsi-ld/default-context/Counter"
SEQ = "https://uri.etsi.org/ngsi-ld/default-context/seq"
UPDATED = [f"urn:ngsi-ld:Counter:u{j}" for j in range(4)]


def counter(entity_id: str, seq: int, lon: float = 71.43) -> dict[str, Any]:
    return {"id": entity_id, "type": "Counter", "seq": prop(seq), "location": point(lon, 51.13)}


# -- the city the tests back up -----------------------------------------------------------------


def populate(server: ServerProcess) -> None:
    """Something in every capability's tables: entities and history, a hosted @context,
    subscriptions, IoT service groups and devices, tenant settings, keys and the audit log."""
    with httpx.Client(
        base_url=server.url, headers={**server.headers, "NGSILD-Tenant": TENANT}, timeout=30
    ) as http:
        lights = [
            {
                "id": f"urn:ngsi-ld:Streetlight:{n}",
                "type": "Streetlight",
                "status": prop("ok"),
                "powerState": prop("on"),
                "location": point(71.40 + n / 1000, 51.10),
            }
            for n in range(100)
        ]
        for rounds in range(3):
            for light in lights:
                light["illuminance"] = prop(float(rounds * 10 + len(light["id"])))
            response = http.post(f"{BASE}/entityOperations/upsert", json=lights)
            assert response.status_code in (201, 204), response.text
        for n, entity_id in enumerate(UPDATED):
            response = http.post(f"{BASE}/entities", json=counter(entity_id, 0, 71.0 + n / 10))
            assert response.status_code == 201, response.text
        response = http.post(
            f"{BASE}/jsonldContexts",
            json={"@context": {"Counter": "https://example.org/Counter"}},
        )
        assert response.status_code == 201, response.text
        for body in (
            {
                "type": "Subscription",
                "entities": [{"type": "Streetlight"}],
                "isActive": False,
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
            },
            {
                "type": "Subscription",
                "entities": [{"type": "Bench"}],
                "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
            },
        ):
            response = http.post(f"{BASE}/subscriptions", json=body)
            assert response.status_code == 201, response.text
        group = {
            "apikey": "reliability-key",
            "entity_type": "Thermometer",
            "attributes": [{"object_id": "t", "name": "temperature", "type": "Number"}],
        }
        response = http.post("/iot/services", json={"services": [group]})
        assert response.status_code == 201, response.text
        devices = [{"device_id": f"th{n}", "apikey": "reliability-key"} for n in range(3)]
        response = http.post("/iot/devices", json={"devices": devices})
        assert response.status_code == 201, response.text
        response = http.patch(
            f"/qala/v1/tenants/{TENANT}", json={"settings": {"validation": "off"}}
        )
        assert response.status_code == 200, response.text


# -- a writer that keeps going during the backup -------------------------------------------------


@dataclass
class Write:
    seq: int
    kind: str  # "create", "batch" or "update"
    ids: list[str]


class Writer(threading.Thread):
    """One client writing in sequence (each write answered before the next starts), so the
    writes are totally ordered and a consistent snapshot holds exactly a prefix of them."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.done: list[Write] = []
        self.error: str | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        headers = {**self.server.headers, "NGSILD-Tenant": TENANT}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=30) as http:
            seq = 0
            while not self.halt.is_set():
                seq += 1
                kind = ("batch", "create", "update")[seq % 3]
                if kind == "create":
                    ids = [f"urn:ngsi-ld:Counter:{seq}"]
                    response = http.post(f"{BASE}/entities", json=counter(ids[0], seq))
                elif kind == "batch":
                    ids = [f"urn:ngsi-ld:Counter:{seq}-{i}" for i in range(3)]
                    response = http.post(
                        f"{BASE}/entityOperations/create", json=[counter(i, seq) for i in ids]
                    )
                else:
                    ids = [UPDATED[seq % len(UPDATED)]]
                    response = http.patch(f"{BASE}/entities/{ids[0]}/attrs", json={"seq": seq})
                if response.status_code not in (201, 204):
                    self.error = f"write {seq} ({kind}): {response.status_code} {response.text}"
                    return
                self.done.append(Write(seq, kind, ids))

    def wait_for(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.done) < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"the writer is stuck at {len(self.done)}"
            time.sleep(0.002)

    def finish(self) -> None:
        self.halt.set()
        self.join(timeout=30)
        assert self.error is None, self.error


def _created_by(entity_id: str) -> int | None:
    """The write that created a counter entity (None: created before the writer started)."""
    prefix = "urn:ngsi-ld:Counter:"
    if not entity_id.startswith(prefix) or entity_id in UPDATED:
        return None
    return int(entity_id[len(prefix) :].split("-")[0])


def _seq_of(data: Any) -> int:
    doc = orjson.loads(data) if isinstance(data, str) else data
    return int(doc[SEQ]["value"])


def expected_snapshot(source: str, writes: list[Write], cut: int) -> dict[str, list[tuple]]:
    """The source database as it was when write ``cut`` had committed and the next had not,
    rebuilt from its final state: the writer's rows after ``cut`` taken away, and the
    updated counters set back to their value at ``cut``."""
    tid = fetch(source, "SELECT id FROM tenants WHERE name = $1", TENANT)[0][0]
    # When write ``cut`` happened (every row of one write carries its time): the entity's
    # audit rows are its creation, then one per update.
    last = writes[cut - 1]
    assert last.seq == cut
    times = [
        r[0]
        for r in fetch(
            source,
            "SELECT at FROM audit_log WHERE tenant = $1 AND entity_id = $2 ORDER BY at",
            TENANT,
            last.ids[0],
        )
    ]
    if last.kind == "update":
        updates = [w.seq for w in writes if w.kind == "update" and w.ids == last.ids]
        cut_at = times[1 + updates.index(cut)]
    else:
        cut_at = times[0]
    sids = {
        sid: entity_id
        for sid, entity_id in fetch(source, "SELECT sid, entity_id FROM temporal_series")
    }

    def keep_entity(entity_id: str) -> bool:
        made = _created_by(entity_id)
        return made is None or made <= cut

    expected: dict[str, list[tuple]] = {}
    for table in table_names(source):
        cols = sorted(columns_of(source, table))
        raw = fetch(source, f'SELECT {", ".join(cols)} FROM "{table}"')
        c = {name: i for i, name in enumerate(cols)}
        kept: list[tuple[Any, ...]] = []
        for row in raw:
            if table == "audit_log" and row[c["at"]] > cut_at:
                continue
            if table in ("temporal_series", "temporal_entities") and not keep_entity(
                row[c["entity_id"]]
            ):
                continue
            if table == "temporal_instances":
                entity_id = sids[row[c["sid"]]]
                if not keep_entity(entity_id):
                    continue
                if entity_id in UPDATED and row[c["num"]] is not None and row[c["num"]] > cut:
                    continue
            if table == "entities":
                if not keep_entity(row[c["entity_id"]]):
                    continue
                if row[c["entity_id"]] in UPDATED and row[c["tenant_id"]] == tid:
                    row = _counter_at(source, row, c, writes, cut)
            kept.append(row)
        if table in ("entity_types", "entity_geo"):
            pks = {r[0] for r in fetch(source, "SELECT pk FROM entities")}
            dropped = {
                r[0]
                for r in fetch(source, "SELECT pk, entity_id FROM entities")
                if not keep_entity(r[1])
            }
            kept = [r for r in kept if r[c["entity_pk"]] in pks - dropped]
        expected[table] = sorted((tuple(normal(v) for v in r) for r in kept), key=repr)
    return expected


def _counter_at(
    source: str, row: tuple[Any, ...], c: dict[str, int], writes: list[Write], cut: int
) -> tuple[Any, ...]:
    """An updated counter's row as it was after write ``cut``."""
    entity_id = row[c["entity_id"]]
    updates = [w.seq for w in writes if w.kind == "update" and w.ids == [entity_id]]
    before = [s for s in updates if s <= cut]
    times = [
        r[0]
        for r in fetch(
            source,
            "SELECT at FROM audit_log WHERE tenant = $1 AND entity_id = $2 ORDER BY at",
            TENANT,
            entity_id,
        )
    ]
    assert len(times) == 1 + len(updates), (entity_id, times, updates)
    modified_at = times[len(before)]  # the creation, or the last update up to the cut
    data = orjson.loads(row[c["data"]]) if isinstance(row[c["data"]], str) else row[c["data"]]
    data = copy.deepcopy(data)
    data[SEQ]["value"] = before[-1] if before else 0
    data[SEQ]["modifiedAt"] = us_to_iso(modified_at)
    values = list(row)
    values[c["data"]] = orjson.dumps(data).decode()
    values[c["modified_at"]] = modified_at
    return tuple(values)


def snapshot_cut(restored: str, writes: list[Write]) -> int:
    """The last write the restored database holds, after checking that it holds every write
    before it and none after, each one whole (a batch is all there or all absent)."""
    tid = fetch(restored, "SELECT id FROM tenants WHERE name = $1", TENANT)[0][0]
    rows = fetch(
        restored,
        "SELECT entity_id, data FROM entities WHERE tenant_id = $1 AND types LIKE $2",
        tid,
        '%"' + COUNTER + '"%',
    )
    present = {entity_id: _seq_of(data) for entity_id, data in rows}
    written = {i for w in writes for i in w.ids}
    assert set(present) <= written | set(UPDATED)
    # Every write leaves a trace (a new entity, or an updated counter's value), so the last
    # write of the snapshot is the latest trace.
    traces = [w.seq for w in writes if w.kind != "update" and w.ids[0] in present]
    traces += [present[entity_id] for entity_id in UPDATED]
    cut = max(traces)
    for write in writes:
        if write.kind != "update":
            found = [i for i in write.ids if i in present]
            assert found == (write.ids if write.seq <= cut else []), (
                f"write {write.seq} ({write.kind}) of a snapshot up to write {cut}: "
                f"{found} of {write.ids} restored"
            )
    for entity_id in UPDATED:
        mine = [w.seq for w in writes if w.kind == "update" and w.ids == [entity_id]]
        upto = [s for s in mine if s <= cut]
        assert present[entity_id] == (upto[-1] if upto else 0), (entity_id, cut)
    return cut


def _run_backup_during_writes(server: ServerProcess, path: Path) -> tuple[Writer, int, int]:
    """Back up while the writer writes, making sure it writes between every two tables the
    backup reads; returns the writer and its progress when the backup began and ended."""
    writer = Writer(server)
    writer.start()
    writer.wait_for(6)
    began = len(writer.done)

    def progress(table: str, rows: int) -> None:
        writer.wait_for(len(writer.done) + 2)

    asyncio.run(backup(server.database_url, path, progress=progress))
    ended = len(writer.done)
    writer.wait_for(ended + 3)  # writes after the snapshot, which the backup must not hold
    writer.finish()
    return writer, began, ended


@pytest.mark.parametrize(
    ("backend", "target"),
    [
        ("sqlite", "sqlite"),
        ("postgresql", "postgresql"),
        ("sqlite", "postgresql"),
        ("postgresql", "sqlite"),
    ],
)
def test_a_backup_taken_while_writes_go_on_restores_exactly_its_snapshot(
    server: ServerProcess,
    target: str,
    new_database: Callable[[str], str],
    tmp_path: Path,
) -> None:
    server.start()
    populate(server)
    path = tmp_path / "city.qala-backup"
    writer, began, ended = _run_backup_during_writes(server, path)
    assert ended - began >= 2 * len(table_names(server.database_url))

    restored = new_database(target)
    result = CliRunner().invoke(cli_app, ["restore", str(path), "--db", restored])
    assert result.exit_code == 0, result.output

    cut = snapshot_cut(restored, writer.done)
    # The snapshot lies within the backup, and later writes are not in it.
    assert writer.done[began - 1].seq <= cut <= writer.done[ended - 1].seq
    assert cut < writer.done[-1].seq
    expected = expected_snapshot(server.database_url, writer.done, cut)
    actual = dump(restored)
    assert sorted(actual) == sorted(expected)
    for table in expected:
        assert actual[table] == expected[table], f"table {table} differs from the snapshot"
    filled = {t for t, rows in actual.items() if rows}
    assert {
        "tenants",
        "entities",
        "entity_types",
        "entity_geo",
        "temporal_instances",
        "temporal_series",
        "temporal_entities",
        "audit_log",
        "api_keys",
        "subscriptions",
        "jsonld_contexts",
        "iot_services",
        "iot_devices",
    } <= filled

    # The restored database serves the city: its geometry index was rebuilt, its key works.
    settings = Settings(database_url=restored, mqtt_url="", temporal_compact_interval=0)
    with TestClient(create_app(settings), headers=server.headers) as client:
        near = client.get(
            f"{BASE}/entities",
            params={
                "type": "Counter",
                "georel": "near;maxDistance==2000",
                "geometry": "Point",
                "coordinates": "[71.43,51.13]",
                "count": "true",
            },
            headers={"NGSILD-Tenant": TENANT},
        )
        assert near.status_code == 200, near.text
        created = sum(len(w.ids) for w in writer.done if w.kind != "update" and w.seq <= cut)
        assert int(near.headers["NGSILD-Results-Count"]) == created


# -- refusals ---------------------------------------------------------------------------------


def _make_backup(database_url: str, path: Path) -> None:
    asyncio.run(backup(database_url, path))


def _fill(database_url: str, key: str, entities: int) -> None:
    settings = Settings(database_url=database_url, mqtt_url="", temporal_compact_interval=0)
    headers = {"Authorization": f"Bearer {key}", "NGSILD-Tenant": TENANT}
    with TestClient(create_app(settings), headers=headers) as client:
        batch = [counter(f"urn:ngsi-ld:Counter:f{n}", n) for n in range(entities)]
        response = client.post(f"{BASE}/entityOperations/upsert", json=batch)
        assert response.status_code == 201, response.text


def _rewrite(path: Path, edit: Callable[[list[bytes]], list[bytes]]) -> None:
    with gzip.open(path) as raw:
        lines = raw.read().split(b"\n")
    with gzip.open(path, "wb") as out:
        out.write(b"\n".join(edit(lines)))


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_a_row(lines: list[bytes]) -> list[bytes]:
    n = next(i for i, line in enumerate(lines) if b"urn:ngsi-ld:Counter:f3" in line)
    lines[n] = lines[n].replace(b"urn:ngsi-ld:Counter:f3", b"urn:ngsi-ld:Counter:f9")
    return lines


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "not gzip": (lambda p: p.write_bytes(b"PGDMP\x01\x0e" + b"\x00" * 64), "not a Qala backup"),
    "foreign JSON lines": (
        lambda p: p.write_bytes(gzip.compress(b'{"hello": "world"}\n[1, 2]\n')),
        "not a Qala backup",
    ),
    "cut short": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "damaged"),
    "a flipped byte": (_flip_a_byte, "damaged"),
    "an edited row": (lambda p: _rewrite(p, _edit_a_row), "checksum does not match"),
    "its last line removed": (lambda p: _rewrite(p, lambda ls: [*ls[:-2], b""]), "incomplete"),
    "missing": (lambda p: p.unlink(), "no backup file"),
}


def test_a_damaged_or_foreign_file_is_refused_and_the_target_is_untouched(
    database_url: str, tmp_path: Path
) -> None:
    key = create_admin_key(database_url)
    _fill(database_url, key, 10)
    good = tmp_path / "city.qala-backup"
    _make_backup(database_url, good)
    _fill(database_url, key, 20)  # the target now differs from the backup
    before = dump(database_url)
    for damage, (spoil, message) in DAMAGE.items():
        path = tmp_path / f"{damage}.qala-backup"
        path.write_bytes(good.read_bytes())
        spoil(path)
        result = CliRunner().invoke(
            cli_app, ["restore", str(path), "--db", database_url, "--force"]
        )
        assert result.exit_code == 2, (damage, result.output)
        assert "restore refused" in result.output, (damage, result.output)
        assert message in result.output, (damage, result.output)
        assert dump(database_url) == before, damage


def test_a_database_with_data_is_only_replaced_with_force(
    database_url: str, tmp_path: Path
) -> None:
    key = create_admin_key(database_url)
    _fill(database_url, key, 10)
    path = tmp_path / "nightly" / "city.qala-backup"
    made = CliRunner().invoke(cli_app, ["backup", str(path), "--db", database_url])
    assert made.exit_code == 0, made.output
    assert "entities: 10 rows" in made.output and "backed up" in made.output
    assert not list(path.parent.glob(".*partial"))  # only the finished file
    snapshot = dump(database_url)
    _fill(database_url, key, 30)
    before = dump(database_url)

    refused = CliRunner().invoke(cli_app, ["restore", str(path), "--db", database_url])
    assert refused.exit_code == 2
    assert "not empty" in refused.output and "--force" in refused.output
    assert dump(database_url) == before

    forced = CliRunner().invoke(cli_app, ["restore", str(path), "--db", database_url, "--force"])
    assert forced.exit_code == 0, forced.output
    after = dump(database_url)
    # Exactly the snapshot, plus the restore itself in the audit log.
    for table, rows in snapshot.items():
        if table != "audit_log":
            assert after[table] == rows, table
    added = [r for r in after["audit_log"] if r not in snapshot["audit_log"]]
    assert len(after["audit_log"]) == len(snapshot["audit_log"]) + 1
    assert any("db.restore" in r for r in added), added
    # The audit log is still append-only.
    url = DatabaseURL(database_url)
    with pytest.raises(Exception, match="append-only"):
        fetch(database_url, "DELETE FROM audit_log")
    assert url.is_sqlite or url.is_postgres


def test_a_backup_made_by_a_newer_qala_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.qala-backup"
    header = Header(
        created_at="2031-01-01T00:00:00.000Z",
        qala_version="9.0",
        source="sqlite",
        revisions=["0001", "0099_hologram"],
        tables=[TableSpec("tenants", [("id", "INTEGER"), ("name", "TEXT")])],
    )
    with BackupWriter(path, header) as writer:
        writer.start_table("tenants")
        writer.write_rows([[1, "astana"]])
    target = f"sqlite:///{tmp_path / 'qala.db'}"
    result = CliRunner().invoke(cli_app, ["restore", str(path), "--db", target])
    assert result.exit_code == 2
    assert "newer Qala" in result.output and "0099_hologram" in result.output
    assert not (tmp_path / "qala.db").exists()


def test_a_backup_of_an_older_schema_is_restored_then_upgraded(
    tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(DatabaseURL(old), "0001")
    fetch(old, "INSERT INTO tenants(id, name, created_at, settings) VALUES (1, 'astana', 1, '{}')")
    path = tmp_path / "old.qala-backup"
    _make_backup(old, path)

    target = new_database("sqlite")
    summary = asyncio.run(restore(target, path))
    assert summary.migrated_after
    assert fetch(target, "SELECT name FROM tenants") == [("astana",)]
    assert set(table_names(target)) >= {"audit_log", "subscriptions", "temporal_instances"}
    heads = sorted(r[0] for r in fetch(target, "SELECT version_num FROM alembic_version"))
    assert len(heads) > 1 and "0001" not in heads

    migrated = new_database("sqlite")
    Path(DatabaseURL(migrated).sqlite_path).parent.mkdir()
    migrate.upgrade(DatabaseURL(migrated))
    result = CliRunner().invoke(cli_app, ["restore", str(path), "--db", migrated])
    assert result.exit_code == 2
    assert "schema revisions" in result.output and "new, empty database" in result.output


@pytest.mark.parametrize(
    ("backend", "target"),
    [
        ("sqlite", "sqlite"),
        ("postgresql", "postgresql"),
        ("sqlite", "postgresql"),
        ("postgresql", "sqlite"),
    ],
)
def test_ids_handed_out_before_a_backup_are_not_handed_out_again(
    database_url: str, target: str, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    # Notification ids come from the outbox, whose rows are deleted once delivered.
    insert = (
        "INSERT INTO subscription_outbox(tenant_id, subscription_id, created_at, payload) "
        "VALUES (1, 'urn:ngsi-ld:Subscription:s', 1, '{}')"
    )
    for _ in range(3):
        fetch(database_url, insert)
    fetch(database_url, "DELETE FROM subscription_outbox")
    path = tmp_path / "city.qala-backup"
    _make_backup(database_url, path)

    restored = new_database(target)
    asyncio.run(restore(restored, path))
    fetch(restored, insert)
    assert fetch(restored, "SELECT id FROM subscription_outbox") == [(4,)]


def test_what_is_not_a_qala_database_is_not_backed_up(tmp_path: Path) -> None:
    runner = CliRunner()
    garbage = tmp_path / "notes.db"
    garbage.write_text("shopping list: milk, bread\n" * 100)
    result = runner.invoke(cli_app, ["backup", str(tmp_path / "a"), "--db", f"sqlite:///{garbage}"])
    assert result.exit_code == 2 and "not a usable SQLite database" in result.output
    missing = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = runner.invoke(cli_app, ["backup", str(tmp_path / "b"), "--db", missing])
    assert result.exit_code == 2 and "no SQLite database" in result.output
    assert not (tmp_path / "nowhere.db").exists()
    bare = tmp_path / "bare.db"
    fetch(f"sqlite:///{bare}", "CREATE TABLE t (x INTEGER)")
    result = runner.invoke(cli_app, ["backup", str(tmp_path / "c"), "--db", f"sqlite:///{bare}"])
    assert result.exit_code == 2 and "not a Qala database" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.db", "notes.db"]
