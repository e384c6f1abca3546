"""Database URLs as users write them (``sqlite:///qala.db``, ``postgresql://…``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    raw: str

    def __post_init__(self) -> None:
        if not (self.is_sqlite or self.is_postgres):
            raise ValueError(
                f"unsupported database URL {self.raw!r}: use sqlite:///path/to/file.db "
                "or postgresql://user@host:port/database"
            )
        if self.is_sqlite and not self.sqlite_path:
            raise ValueError(f"{self.raw!r} names no file: use sqlite:///path/to/file.db")

    @property
    def scheme(self) -> str:
        return urlsplit(self.raw).scheme.split("+", 1)[0]

    @property
    def is_sqlite(self) -> bool:
        return self.scheme == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.scheme in ("postgresql", "postgres")

    @property
    def sqlite_path(self) -> str:
        """The file of a ``sqlite:///relative`` or ``sqlite:////absolute`` URL."""
        rest = self.raw.split(":", 1)[1]
        if rest.startswith("///"):
            return rest[3:]
        if rest.startswith("//"):
            return rest[2:]
        return rest

    @property
    def sqlalchemy(self) -> str:
        if self.is_sqlite:
            return f"sqlite:///{Path(self.sqlite_path)}"
        rest = self.raw.split("://", 1)[1]
        return f"postgresql+asyncpg://{rest}"

    @property
    def asyncpg_dsn(self) -> str:
        rest = self.raw.split("://", 1)[1]
        return f"postgresql://{rest}"

    def __str__(self) -> str:
        return self.raw
