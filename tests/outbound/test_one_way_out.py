"""One way out: only ``qala/outbound.py`` opens HTTP or MQTT connections, read from the sources.

Every call that opens an outbound connection (an HTTP or MQTT client, a raw socket connection)
anywhere else in ``src/qala`` fails this test, unless it is in :data:`OPERATOR_CHOSEN` — hosts
that the operator configures, never API users, and which therefore need no SSRF guard (and are
often on the operator's own network, which the guard would refuse).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
OUTBOUND = "qala/outbound.py"

#: Calls that open connections (after resolving import aliases).
CONNECTING_CALLS = frozenset(
    {
        *(
            f"httpx.{name}"
            for name in (
                "AsyncClient",
                "Client",
                "AsyncHTTPTransport",
                "HTTPTransport",
                "get",
                "post",
                "put",
                "patch",
                "delete",
                "head",
                "options",
                "request",
                "stream",
            )
        ),
        "httpcore.AsyncConnectionPool",
        "httpcore.ConnectionPool",
        "httpcore.AsyncHTTPConnection",
        "httpcore.AnyIOBackend",
        "httpcore.request",
        "httpcore.stream",
        "aiomqtt.Client",
        "paho.mqtt.client.Client",
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "urllib.request.urlopen",
        "smtplib.SMTP",
        "ftplib.FTP",
    }
)
#: Methods that open a connection whatever object they are called on.
CONNECTING_METHODS = frozenset(
    {"open_connection", "create_connection", "sock_connect", "connect_tcp", "urlopen"}
)
#: Client libraries that have no business in src/qala (outbound.py uses httpx and aiomqtt).
FOREIGN_CLIENTS = ("aiohttp", "requests", "urllib3", "pycurl", "websockets", "websocket", "paho")

#: Connections to hosts the operator chooses, with why they are not user-chosen.
OPERATOR_CHOSEN: dict[tuple[str, str], str] = {
    ("qala/auth/tokens.py", "httpx.AsyncClient"): (
        "the JWKS of QALA_OIDC_JWKS, set by the operator; usually the city's own identity "
        "provider (Keycloak) on its network, which the guard would refuse"
    ),
    ("qala/iot/mqtt.py", "asyncio.open_connection"): (
        "the device-measure broker of QALA_MQTT_URL, set by the operator"
    ),
    ("qala/iot/cli.py", "socket.create_connection"): (
        "`qala demo` / `qala simulate` probing the operator's QALA_MQTT_URL broker"
    ),
}


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else node.attr
    if isinstance(node, ast.Call):  # e.g. asyncio.get_running_loop().create_connection
        return _dotted(node.func, aliases)
    return None


def connections(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every connecting call and foreign client import in ``source``."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                if alias.name.split(".")[0] in FOREIGN_CLIENTS:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            if node.module.split(".")[0] in FOREIGN_CLIENTS:
                found.append((node.lineno, f"from {node.module} import"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name is None:
            continue
        method = name.rsplit(".", 1)[-1]
        if name in CONNECTING_CALLS or method in CONNECTING_METHODS:
            found.append((node.lineno, name))
    return sorted(found)


def _sources() -> dict[str, str]:
    return {
        path.relative_to(SRC).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted((SRC / "qala").rglob("*.py"))
    }


def test_nothing_but_the_outbound_module_connects_to_user_chosen_hosts() -> None:
    offenders = [
        f"{path}:{line}: {what}"
        for path, source in _sources().items()
        if path != OUTBOUND
        for line, what in connections(source)
        if (path, what) not in OPERATOR_CHOSEN
    ]
    assert offenders == [], (
        "outbound connections outside qala/outbound.py (use qala.outbound.Outbound for URLs "
        "that API users choose, or add an operator-configured host to OPERATOR_CHOSEN with "
        "the reason):\n" + "\n".join(offenders)
    )


def test_every_operator_chosen_exception_is_still_in_the_sources() -> None:
    sources = _sources()
    present = {
        (path, what) for path, source in sources.items() for _line, what in connections(source)
    }
    assert set(OPERATOR_CHOSEN) <= present, set(OPERATOR_CHOSEN) - present


def test_the_outbound_module_is_where_the_http_and_mqtt_clients_are_made() -> None:
    made = {what for _line, what in connections(_sources()[OUTBOUND])}
    assert {"httpx.AsyncClient", "aiomqtt.Client", "httpcore.AsyncConnectionPool"} <= made


def test_the_reader_sees_through_aliases_and_inner_imports() -> None:
    source = """
import httpx as web
from aiomqtt import Client as Broker
import requests
import asyncio

async def notify(url):
    import paho.mqtt.client as mqtt
    mqtt.Client()
    await web.AsyncClient().get(url)
    async with Broker("broker.example"):
        pass
    await asyncio.get_running_loop().create_connection(lambda: None, "h", 1)
    httpx_note = "httpx.AsyncClient()"
"""
    assert [what for _line, what in connections(source)] == [
        "import requests",
        "import paho.mqtt.client",
        "paho.mqtt.client.Client",
        "httpx.AsyncClient",
        "aiomqtt.Client",
        "asyncio.get_running_loop.create_connection",
    ]
