"""Shared pieces of the benchmarks: servers in subprocesses, wrk runs, databases, reporting.

Benchmarks print figures; they never assert timings. Each one measures a ceiling in the same
run (a bare ASGI endpoint, raw driver inserts) so its figures can be read as ratios on a shared,
noisy machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "QALA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def admin_key(database_url: str) -> str:
    """``qala keys create --role admin``: the key is printed alone on standard output."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "qala.cli",
            "keys",
            "create",
            "--role",
            "admin",
            "--db",
            database_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    return out.stdout.strip()


def key_id(database_url: str, secret: str) -> str:
    """The id of the API key ``secret`` (as ``qala keys list`` shows it)."""
    import hashlib

    digest = hashlib.sha256(secret.encode()).hexdigest()
    if database_url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"))
        try:
            row = conn.execute("SELECT id FROM api_keys WHERE key_hash = ?", (digest,)).fetchone()
        finally:
            conn.close()
        return str(row[0])

    async def lookup() -> str:
        import asyncpg

        conn = await asyncpg.connect(database_url)
        try:
            return str(await conn.fetchval("SELECT id FROM api_keys WHERE key_hash = $1", digest))
        finally:
            await conn.close()

    return asyncio.run(lookup())


def bench_key_env(database_url: str, secret: str, rate: float = 1_000_000) -> dict[str, str]:
    """Settings that let one admin key drive a benchmark's load: the rate limit stays at its
    default for every other caller, and this key is configured to allow ``rate`` requests/s."""
    return {"QALA_RATE_LIMIT_KEYS": f'{{"{key_id(database_url, secret)}": {rate}}}'}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine() -> str:
    return f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()}"


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def server(
    app: str = "qala.app:create_app",
    *,
    env: dict[str, str] | None = None,
    factory: bool = True,
    workers: int = 1,
    health: str = "/health",
) -> Iterator[Server]:
    """Run ``app`` under uvicorn in a subprocess on a free port until the block ends."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="qala-bench-", suffix=".log")[1])
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
    ]
    if factory:
        cmd.append("--factory")
    full_env = {**os.environ, "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT / 'src'}", **(env or {})}
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    srv = Server(process, port, log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(srv.url + health, timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield srv
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.unlink(missing_ok=True)


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(
    url: str,
    *,
    script: str | None = None,
    duration: int = 10,
    connections: int = 32,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run wrk against ``url`` (with an optional Lua script) and parse its figures."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    script_path: Path | None = None
    if script:
        script_path = Path(tempfile.mkstemp(suffix=".lua")[1])
        script_path.write_text(script)
        cmd += ["-s", str(script_path)]
    cmd.append(url)
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        if script_path is not None:
            script_path.unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines ("     50%  292.00us"), not a "+/- Stdev" figure
    # such as 95.50 % elsewhere in the output.
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(
        requests_per_s=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
    )


async def _pg(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A fresh, empty database URL for ``backend`` ("sqlite" or "postgresql")."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="qala-bench-"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"qala_bench_{os.getpid()}"
    asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_pg(f'CREATE DATABASE "{name}"'))
    head, _, _ = PG_ADMIN_URL.rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_available() -> bool:
    try:
        asyncio.run(_pg("SELECT 1"))
    except Exception:
        return False
    return True


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
