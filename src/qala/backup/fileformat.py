"""The backup file: a self-contained logical dump, the same for SQLite and PostgreSQL.

A backup is a gzip-compressed stream of JSON lines::

    {"format": "qala-backup", "version": 1, "created_at": …, "source": "sqlite", "revisions": […],
     "tables": [{"name": "entities", "columns": [["pk", "INTEGER"], …]}, …],
     "sequences": {"audit_log": {"column": "id", "value": 812}, …}}
    {"table": "entities"}
    [1, 1, "urn:ngsi-ld:Streetlight:1", …]          one JSON array per row
    …
    {"table": "entity_geo"}
    …
    {"end": {"rows": {"entities": 120, …}}, "sha256": "…"}

The last line carries the SHA-256 of every (uncompressed) byte before it and the number of rows
of each table, so a damaged, truncated or edited file is refused before anything is restored.
Values are plain JSON: integers, floats, strings and nulls. The few values JSON cannot carry are
objects: ``{"$float": "nan" | "inf" | "-inf"}`` and ``{"$bytes": "<base64>"}``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import math
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

FORMAT = "qala-backup"
VERSION = 1
_MAGIC = b"\x1f\x8b"  # gzip
#: gzip level: fast; history rows compress about 10:1 even so.
COMPRESSION = 3


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, for an operator."""


@dataclass(slots=True)
class TableSpec:
    name: str
    #: (column name, declared type in the source database)
    columns: list[tuple[str, str]]

    @property
    def names(self) -> list[str]:
        return [c[0] for c in self.columns]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "columns": [list(c) for c in self.columns]}


@dataclass(slots=True)
class Header:
    created_at: str
    qala_version: str
    source: str
    revisions: list[str]
    tables: list[TableSpec]
    #: table -> {"column": …, "value": …}: the highest id its sequence had issued.
    sequences: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = VERSION

    def table(self, name: str) -> TableSpec:
        for spec in self.tables:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "created_at": self.created_at,
            "qala_version": self.qala_version,
            "source": self.source,
            "revisions": self.revisions,
            "tables": [t.to_json() for t in self.tables],
            "sequences": self.sequences,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Header:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise BackupError("not a Qala backup (its first line is not a qala-backup header)")
        version = doc.get("version")
        if not isinstance(version, int) or version < 1:
            raise BackupError("not a Qala backup (the header has no valid format version)")
        if version > VERSION:
            raise BackupError(
                f"backup format version {version} is newer than this Qala reads ({VERSION}); "
                "restore it with a newer Qala"
            )
        try:
            tables = [
                TableSpec(str(t["name"]), [(str(c[0]), str(c[1])) for c in t["columns"]])
                for t in doc["tables"]
            ]
            header = cls(
                created_at=str(doc["created_at"]),
                qala_version=str(doc["qala_version"]),
                source=str(doc["source"]),
                revisions=[str(r) for r in doc["revisions"]],
                tables=tables,
                sequences=dict(doc.get("sequences") or {}),
                version=version,
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise BackupError(f"the backup header is malformed ({exc!r})") from None
        return header


def _encode_special(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    raise TypeError(f"cannot store a {type(value).__name__} value in a backup")


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def decode_value(value: Any) -> Any:
    """A value as the database takes it (see the module docstring for the special objects)."""
    if value.__class__ is not dict:
        return value
    if "$float" in value:
        return float(value["$float"])
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    raise BackupError(f"the backup holds an unknown value object {value!r}")


class BackupWriter:
    """Writes a backup to a temporary file and moves it into place when complete, so a
    crashed or failed backup never leaves a file that looks whole."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = path
        self.header = header
        self.rows: dict[str, int] = {}
        self._hash = hashlib.sha256()
        self._tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        self._raw: IO[bytes] | None = None
        self._gz: gzip.GzipFile | None = None
        self._table: TableSpec | None = None
        self._float_columns: list[int] = []

    def __enter__(self) -> BackupWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self._tmp, "wb")
        self._gz = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=COMPRESSION
        )
        self._line(orjson.dumps(self.header.to_json()))
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if kind is None:
            self._finish()
        else:
            self._abort()

    def _line(self, data: bytes) -> None:
        assert self._gz is not None
        data += b"\n"
        self._hash.update(data)
        self._gz.write(data)

    def start_table(self, name: str) -> None:
        self._table = self.header.table(name)
        self.rows[name] = 0
        self._float_columns = [
            i for i, (_, kind) in enumerate(self._table.columns) if _is_float_type(kind)
        ]
        self._line(orjson.dumps({"table": name}))

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        assert self._table is not None, "start_table first"
        floats = self._float_columns
        dumps = orjson.dumps
        lines: list[bytes] = []
        for row in rows:
            values = list(row)
            for i in floats:
                value = values[i]
                if value.__class__ is float and not math.isfinite(value):
                    values[i] = _float(value)
            try:
                lines.append(dumps(values, default=_encode_special))
            except TypeError as exc:
                raise BackupError(f"table {self._table.name}: {exc}") from None
        if not lines:
            return
        self.rows[self._table.name] += len(lines)
        lines.append(b"")  # the last row's newline
        data = b"\n".join(lines)
        assert self._gz is not None
        self._hash.update(data)
        self._gz.write(data)

    def _finish(self) -> None:
        trailer = {"end": {"rows": self.rows}, "sha256": self._hash.hexdigest()}
        assert self._gz is not None and self._raw is not None
        self._gz.write(orjson.dumps(trailer) + b"\n")
        self._gz.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self._tmp, self.path)
        _fsync_dir(self.path.parent)

    def _abort(self) -> None:
        try:
            if self._gz is not None:
                self._gz.close()
            if self._raw is not None:
                self._raw.close()
        finally:
            self._tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _is_float_type(kind: str) -> bool:
    kind = kind.upper()
    return any(word in kind for word in ("REAL", "FLOA", "DOUB"))


@dataclass(slots=True)
class TableRows:
    """One table's section of a backup, while it is being read."""

    spec: TableSpec
    rows: Iterator[list[Any]]


class BackupReader:
    """Reads a backup, checking its structure as it goes and its checksum and row counts at
    the end (:meth:`tables` raises :class:`BackupError` after the last table if they do not
    match, before the caller commits anything)."""

    def __init__(self, path: Path, *, parse_rows: bool = True) -> None:
        self.path = path
        #: False: rows are yielded as raw JSON lines (the checksum still covers them).
        self._parse = parse_rows
        self._file: gzip.GzipFile | None = None
        self._lines: Iterator[bytes] | None = None
        self._hash = hashlib.sha256()
        self._trailer: bytes | None = None
        self.header: Header

    def __enter__(self) -> BackupReader:
        try:
            with open(self.path, "rb") as probe:
                magic = probe.read(2)
        except FileNotFoundError:
            raise BackupError(f"no backup file at {self.path}") from None
        except OSError as exc:
            raise BackupError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        if magic != _MAGIC:
            raise BackupError(f"{self.path} is not a Qala backup (not a gzip file)")
        self._file = gzip.open(self.path, "rb")
        self._lines = self._read_lines(self._file)
        first = self._next()
        if first is None:
            raise BackupError(f"{self.path} is not a Qala backup (it is empty)")
        try:
            doc = orjson.loads(first)
        except orjson.JSONDecodeError:
            raise BackupError(f"{self.path} is not a Qala backup (no JSON header)") from None
        self.header = Header.from_json(doc)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._file is not None:
            self._file.close()

    def _read_lines(self, source: gzip.GzipFile) -> Iterator[bytes]:
        """The lines of the file (without their newlines), read in large blocks. Every byte
        before the final ``{"end": …}`` line goes into the checksum."""
        rest = b""
        update = self._hash.update
        while True:
            block = source.read(1 << 20)
            if not block:
                break
            data = rest + block
            cut = data.rfind(b"\n") + 1
            complete, rest = data[:cut], data[cut:]
            if not complete:
                continue
            end = 0 if complete.startswith(b'{"end"') else complete.find(b'\n{"end"') + 1
            if end > 0 or complete.startswith(b'{"end"'):
                # Rows hold only scalars, so '{"end"' opens a line only in the trailer.
                update(complete[:end])
                lines = complete[:end].split(b"\n")
                lines.pop()
                yield from lines
                self._trailer = complete[end:]
                tail = source.read(1)
                if rest or tail or self._trailer.count(b"\n") != 1:
                    raise BackupError(f"the backup {self.path} is damaged (data after its end)")
                yield self._trailer[:-1]
                return
            update(complete)
            lines = complete.split(b"\n")
            lines.pop()
            yield from lines
        if rest:
            yield rest  # a last line without its newline: the file was cut short

    def _next(self) -> bytes | None:
        assert self._lines is not None
        try:
            return next(self._lines)
        except StopIteration:
            return None
        except (OSError, EOFError, zlib.error) as exc:
            # gzip reports a bad CRC, a truncated stream or garbage as one of these.
            raise BackupError(f"the backup {self.path} is damaged ({exc})") from None

    def tables(self) -> Iterator[TableRows]:
        """Each table's rows in file order; the rows of one table must be consumed before
        asking for the next table."""
        counts: dict[str, int] = {}
        pending = self._next()
        while True:
            if pending is None:
                raise BackupError(f"the backup {self.path} is incomplete (it was cut short)")
            if pending.startswith(b'{"end"'):
                self._check_end(pending, counts)
                return
            try:
                marker = orjson.loads(pending)
                name = marker["table"]
                spec = self.header.table(name)
            except (orjson.JSONDecodeError, KeyError, TypeError):
                raise BackupError(
                    f"the backup {self.path} is damaged (unexpected line {pending[:60]!r})"
                ) from None
            if name in counts:
                raise BackupError(f"the backup {self.path} is damaged (table {name} twice)")
            counts[name] = 0
            state: dict[str, bytes | None] = {}
            rows = self._rows(spec, counts, state)
            yield TableRows(spec, rows)
            for _ in rows:  # the rows the caller did not read
                pass
            pending = state["next"]

    def _rows(
        self, spec: TableSpec, counts: dict[str, int], state: dict[str, bytes | None]
    ) -> Iterator[list[Any]]:
        width = len(spec.columns)
        loads = orjson.loads
        n = 0
        while True:
            line = self._next()
            if line is None or not line.startswith(b"["):
                state["next"] = line
                counts[spec.name] = n
                return
            if not self._parse:
                n += 1
                yield line  # type: ignore[misc]
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError:
                raise BackupError(
                    f"the backup {self.path} is damaged (a row of {spec.name} is not JSON)"
                ) from None
            if len(row) != width:
                raise BackupError(
                    f"the backup {self.path} is damaged (a row of {spec.name} has {len(row)} "
                    f"values for {width} columns)"
                )
            if b'{"$' in line:  # a special value (inside strings, quotes are escaped)
                row = [decode_value(value) for value in row]
            n += 1
            yield row

    def _check_end(self, line: bytes, counts: dict[str, int]) -> None:
        try:
            end = orjson.loads(line)
            expected_hash = end["sha256"]
            expected_rows = end["end"]["rows"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise BackupError(f"the backup {self.path} is damaged (bad final line)") from None
        if self._next() is not None:
            raise BackupError(f"the backup {self.path} is damaged (data after its end)")
        if self._hash.hexdigest() != expected_hash:
            raise BackupError(
                f"the backup {self.path} is damaged: its checksum does not match its content"
            )
        if expected_rows != counts:
            raise BackupError(f"the backup {self.path} is damaged: row counts do not match")
        missing = [t.name for t in self.header.tables if t.name not in counts]
        if missing:
            raise BackupError(f"the backup {self.path} is damaged (tables missing: {missing})")


@dataclass(slots=True)
class BackupInfo:
    header: Header
    rows: dict[str, int]
    size_bytes: int


def verify(path: Path) -> BackupInfo:
    """Read a whole backup and check it; raises :class:`BackupError` with the reason."""
    rows: dict[str, int] = {}
    with BackupReader(path, parse_rows=False) as reader:
        for table in reader.tables():
            rows[table.spec.name] = sum(1 for _ in table.rows)
        header = reader.header
    return BackupInfo(header, rows, path.stat().st_size)
