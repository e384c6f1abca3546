"""SQLite connections and the writer thread of the embedded store.

* :func:`connect` opens a connection as every part of the store wants it (WAL, the RE2
  ``REGEXP`` function, the synchronous level);
* :class:`Writer` is the one thread owning the writing connection: jobs that arrive while a
  transaction is being written are committed together (group commit), each inside its own
  SAVEPOINT so that one failing job never affects another;
* :class:`Checkpointer` keeps the WAL file short from its own connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from qala.hub import regex

T = TypeVar("T")


def _regexp(pattern: str, value: object) -> bool:
    return isinstance(value, str) and regex.search(pattern, value)


def connect(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA mmap_size=268435456")
    conn.create_function("REGEXP", 2, _regexp, deterministic=True)
    return conn


def writer_connection(path: str, synchronous: str) -> sqlite3.Connection:
    conn = connect(path, synchronous)
    # Checkpoints run on their own thread (below), not inside a writer's COMMIT.
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


class Checkpointer(threading.Thread):
    """Copies the WAL back into the database file in the background.

    SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold, so a
    writer would pay for copying and syncing the whole database now and then. Here a PASSIVE
    checkpoint (it never blocks readers or the writer) runs every ``interval`` seconds.
    """

    def __init__(self, path: str, synchronous: str, interval: float = 0.5) -> None:
        super().__init__(name="qala-sqlite-checkpointer", daemon=True)
        self._path = path
        self._synchronous = synchronous
        self._interval = interval
        self._halt = threading.Event()

    def run(self) -> None:
        conn = connect(self._path, self._synchronous)
        try:
            while not self._halt.wait(self._interval):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy with another process's checkpoint: next time
                    continue
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)


class Writer(threading.Thread):
    """The single writing thread: group commit with one SAVEPOINT per job."""

    def __init__(self, connect_fn: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(name="qala-sqlite-writer", daemon=True)
        self._connect = connect_fn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start_and_wait(self) -> None:
        self.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def submit(self, job: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((job, loop, future))
        return future

    def stop(self) -> None:
        self._queue.put(None)
        self.join(timeout=30)

    def run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported by start_and_wait
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < 128:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, batch: list[Any]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, _loop, _future in batch:
                conn.execute("SAVEPOINT job")
                try:
                    value = job(conn)
                except BaseException as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((True, value))
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(False, exc)] * len(batch)
        for (_job, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, future, ok, value)


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


