#!/usr/bin/env python3
"""Run the ETSI NGSI-LD test suite against Qala, group by group, each on a fresh database.

The way docs/conformance.md describes, as one command:

    python3 tools/conformance.py --suite /tmp/conformance/suite
        [--robot /tmp/conformance/venv/bin/robot]
        [--db sqlite | --db postgresql://postgres@127.0.0.1:5432]
        [--groups core subscriptions temporal | all | TP/NGSI-LD/…]
        [--out /tmp/conformance/results]

``--suite`` is a git checkout of the suite (the public fork ``marek-mraz/ngsi-ld-test-suite``);
its ETSI test purposes are the ``.robot`` files of its first commit, the rest are the fork's
extensions, and the two are counted apart. For each group the script starts ``qala serve`` on a
new SQLite file (or a new PostgreSQL database) with the suite's ``@context`` documents
preloaded, authentication off and local endpoints allowed (the suite runs its notification and
context servers on 127.0.0.1), runs ``robot`` on the group, stops the server and reads
``output.xml``. It prints a table per group (ETSI passed/failed, extension passed/failed),
writes ``summary.json`` and ``failures.txt`` (every failing TP with its message) under
``--out``, and exits 0 whatever the results (it reports; it does not judge).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTEXT_PREFIX = "https://raw.githubusercontent.com/marek-mraz/ngsi-ld-test-suite/main/resources/jsonld-contexts/"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
CI = "TP/NGSI-LD/ContextInformation"
GROUPS: dict[str, list[str]] = {
    "core": [
        "TP/NGSI-LD/CommonBehaviours",
        f"{CI}/Provision/Entities",
        f"{CI}/Provision/EntityAttributes",
        f"{CI}/Provision/BatchEntities",
        f"{CI}/Provision/PurgeEntities",
        f"{CI}/Provision/TransientEntities",
        f"{CI}/Consumption/Entity",
        f"{CI}/Consumption/Discovery",
        "TP/NGSI-LD/jsonldContext",
    ],
    "subscriptions": [f"{CI}/Subscription"],
    "temporal": [
        f"{CI}/Provision/TemporalEntity",
        f"{CI}/Provision/TemporalEntityAttributes",
        f"{CI}/Consumption/TemporalEntity",
    ],
}
GROUPS["all"] = GROUPS["core"] + GROUPS["subscriptions"] + GROUPS["temporal"]
#: Groups whose TPs count instances of the temporal API's pagination (see the suite's README).
TEMPORAL_PAGE = "10"


@dataclass
class Result:
    group: str
    etsi_passed: int = 0
    etsi_failed: int = 0
    ext_passed: int = 0
    ext_failed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # kind, test, message


def etsi_files(suite: Path) -> set[str]:
    first = subprocess.run(
        ["git", "-C", str(suite), "rev-list", "--max-parents=0", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[0]
    listed = subprocess.run(
        ["git", "-C", str(suite), "ls-tree", "-r", "--name-only", first, "--", "TP"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {name for name in listed if name.endswith(".robot")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def contexts_dir(suite: Path, work: Path, stand_ins: list[str]) -> Path:
    """The suite's @context documents to preload, and ``URL=FILE`` stand-ins for documents
    on the internet (``--stand-in``: to see what else a TP checks; not a conformance result)."""
    target = work / "contexts"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(suite / "resources" / "jsonld-contexts", target / "suite")
    index = {CONTEXT_PREFIX: "suite"}
    for number, item in enumerate(stand_ins):
        url, _, file = item.partition("=")
        name = f"stand-in-{number}.jsonld"
        shutil.copyfile(file, target / name)
        index[url] = name
    (target / "index.json").write_text(json.dumps(index))
    return target


class Server:
    """``qala serve`` on a fresh database, for one group."""

    def __init__(self, db: str, work: Path, contexts: Path, temporal: bool) -> None:
        self.port = free_port()
        self.work = work
        self.pg_admin: str | None = None
        self.pg_name: str | None = None
        if db == "sqlite":
            path = work / "qala.db"
            for leftover in work.glob("qala.db*"):
                leftover.unlink()
            self.url = f"sqlite:///{path}"
        else:
            self.pg_admin = db.rstrip("/")
            self.pg_name = f"qala_conformance_{uuid.uuid4().hex[:8]}"
            self._psql(f'CREATE DATABASE "{self.pg_name}"')
            self.url = f"{self.pg_admin}/{self.pg_name}"
        env = {
            **os.environ,
            "QALA_CONTEXTS_DIR": str(contexts),
            "QALA_ALLOW_LOCAL_ENDPOINTS": "true",
            "QALA_AUTH_DISABLED": "true",
        }
        if temporal:
            env["QALA_TEMPORAL_MAX_INSTANCES"] = TEMPORAL_PAGE
        qala = ROOT / ".venv" / "bin" / "qala"
        self.log = (work / "server.log").open("a")
        self.process = subprocess.Popen(
            [str(qala), "serve", "--db", self.url, "--port", str(self.port)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait()

    def _psql(self, sql: str) -> None:
        assert self.pg_admin is not None
        subprocess.run(
            ["psql", f"{self.pg_admin}/postgres", "-q", "-c", sql], check=True, capture_output=True
        )

    def _wait(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"qala serve exited; see {self.work / 'server.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("qala serve did not answer within 60 s")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()
        if self.pg_name is not None:
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')


def run_group(
    group: str, args: argparse.Namespace, contexts: Path, etsi: set[str], out: Path
) -> Result:
    """ETSI's TPs of ``group``, then the extension TPs, each on a fresh database: TPs of one
    kind count what TPs of the other left behind (021_25 lists every entity of the tenant)."""
    files = (
        sorted(str(p.relative_to(args.suite)) for p in (args.suite / group).rglob("*.robot"))
        if (args.suite / group).is_dir()
        else [group]
    )
    result = Result(group)
    for kind, chosen in (
        ("etsi", [f for f in files if f in etsi]),
        ("extension", [f for f in files if f not in etsi]),
    ):
        if not chosen:
            continue
        part = _run_robot(group, kind, chosen, args, contexts, etsi, out)
        result.etsi_passed += part.etsi_passed
        result.etsi_failed += part.etsi_failed
        result.ext_passed += part.ext_passed
        result.ext_failed += part.ext_failed
        result.failures.extend(part.failures)
    return result


def _run_robot(
    group: str,
    kind: str,
    files: list[str],
    args: argparse.Namespace,
    contexts: Path,
    etsi: set[str],
    out: Path,
) -> Result:
    temporal = "Temporal" in group
    server = Server(args.db, out, contexts, temporal)
    base = f"http://127.0.0.1:{server.port}/ngsi-ld/v1"
    target = out / group.replace("/", "_") / kind
    try:
        subprocess.run(
            [
                args.robot,
                "--outputdir",
                str(target),
                "--log",
                "NONE",
                "--report",
                "NONE",
                "--console",
                "dotted",
                "--variable",
                f"url:{base}",
                "--variable",
                f"temporal_api_url:{base}",
                "--variable",
                "notification_server_host:127.0.0.1",
                "--variable",
                "context_source_host:127.0.0.1",
                "--variable",
                "context_server_host:127.0.0.1",
                "--variable",
                "mqtt_broker_host:127.0.0.1",
                "--variable",
                f"core_context:{CORE_CONTEXT}",
                *files,
            ],
            cwd=args.suite,
            check=False,
            stdout=subprocess.DEVNULL if not args.verbose else None,
        )
    finally:
        server.stop()
    return read_output(group, target / "output.xml", args.suite, etsi)


def read_output(group: str, output: Path, suite: Path, etsi: set[str]) -> Result:
    result = Result(group)
    if not output.exists():
        return result
    tree = ET.parse(output)
    for suite_node in tree.iter("suite"):
        source = suite_node.get("source")
        if not source or not source.endswith(".robot"):
            continue
        relative = str(Path(source).resolve().relative_to(suite.resolve()))
        is_etsi = relative in etsi
        for test in suite_node.findall("test"):
            status = test.find("status")
            passed = status is not None and status.get("status") == "PASS"
            skipped = status is not None and status.get("status") == "SKIP"
            if skipped:
                continue
            name = test.get("name", "?")
            if is_etsi:
                result.etsi_passed += passed
                result.etsi_failed += not passed
            else:
                result.ext_passed += passed
                result.ext_failed += not passed
            if not passed:
                message = (
                    (status.text or "").strip().splitlines()[0:1] if status is not None else []
                )
                result.failures.append(
                    ("ETSI" if is_etsi else "extension", name, message[0][:300] if message else "")
                )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, required=True, help="checkout of the suite")
    parser.add_argument("--robot", default="/tmp/conformance/venv/bin/robot")
    parser.add_argument(
        "--db", default="sqlite", help="sqlite, or a PostgreSQL server URL without database"
    )
    parser.add_argument("--groups", nargs="+", default=["core"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/conformance/results"))
    parser.add_argument("--verbose", action="store_true", help="show robot's output")
    parser.add_argument(
        "--stand-in",
        action="append",
        default=[],
        metavar="URL=FILE",
        help="serve FILE for an @context URL this machine cannot fetch (not for results)",
    )
    args = parser.parse_args()
    args.suite = args.suite.resolve()
    groups: list[str] = []
    for name in args.groups:
        groups.extend(GROUPS.get(name, [name]))
    args.out.mkdir(parents=True, exist_ok=True)
    etsi = etsi_files(args.suite)
    contexts = contexts_dir(args.suite, args.out, args.stand_in)
    results = []
    for group in groups:
        started = time.monotonic()
        result = run_group(group, args, contexts, etsi, args.out)
        results.append(result)
        print(
            f"{group:62} ETSI {result.etsi_passed:4} passed {result.etsi_failed:4} failed · "
            f"extension {result.ext_passed:4} passed {result.ext_failed:4} failed "
            f"({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    total = [
        sum(getattr(r, f) for r in results)
        for f in ("etsi_passed", "etsi_failed", "ext_passed", "ext_failed")
    ]
    print(
        f"{'all':62} ETSI {total[0]:4} passed {total[1]:4} failed · "
        f"extension {total[2]:4} passed {total[3]:4} failed"
    )
    (args.out / "summary.json").write_text(
        json.dumps(
            [
                {
                    "group": r.group,
                    "etsi": {"passed": r.etsi_passed, "failed": r.etsi_failed},
                    "extension": {"passed": r.ext_passed, "failed": r.ext_failed},
                    "failures": [{"kind": k, "test": t, "message": m} for k, t, m in r.failures],
                }
                for r in results
            ],
            indent=2,
            ensure_ascii=False,
        )
    )
    with (args.out / "failures.txt").open("w") as out:
        for r in results:
            for kind, test, message in r.failures:
                out.write(f"{r.group}\t{kind}\t{test}\t{message}\n")
    sys.exit(0)


if __name__ == "__main__":
    main()
