"""Backup and restore of a whole Qala database (``qala backup`` / ``qala restore``).

A backup is an online, transaction-consistent snapshot of every table of every capability in a
self-contained logical format (see :mod:`qala.backup.fileformat`), so a SQLite backup restores
into PostgreSQL and back: that is how a city moves from the embedded store to production.
"""

from qala.backup.fileformat import BackupError, BackupInfo, verify
from qala.backup.operations import BackupSummary, RestoreSummary, backup, restore

__all__ = [
    "BackupError",
    "BackupInfo",
    "BackupSummary",
    "RestoreSummary",
    "backup",
    "restore",
    "verify",
]
