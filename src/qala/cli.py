"""The ``qala`` command: serve, seed the demo, manage contexts and the database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer
from rich.console import Console

from qala import __version__
from qala.backup.cli import backup_command, restore_command
from qala.config import load_settings
from qala.indicators.cli import indicators_app, standard_app
from qala.iot.cli import simulate
from qala.programme.cli import audit_command, programme_app
from qala.temporal.cli import temporal_app

if TYPE_CHECKING:
    from qala.store.base import Store

T = TypeVar("T")

app = typer.Typer(
    name="qala",
    help="Qala, a smart-city platform: NGSI-LD city data hub, live data and more.",
    no_args_is_help=True,
    add_completion=False,
)
contexts_app = typer.Typer(help="JSON-LD @context documents the broker serves offline.")
db_app = typer.Typer(help="The database: migrations.")
keys_app = typer.Typer(help="API keys: create, list, revoke.")
app.add_typer(contexts_app, name="contexts")
app.add_typer(keys_app, name="keys")
app.add_typer(db_app, name="db")
app.add_typer(temporal_app, name="temporal")
app.add_typer(programme_app, name="programme")
app.command("audit")(audit_command)
app.add_typer(indicators_app, name="indicators")
app.add_typer(standard_app, name="standard")
app.command("backup")(backup_command)
app.command("restore")(restore_command)

console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///qala.db (default) or postgresql://user@host/db. "
        "Also QALA_DATABASE_URL.",
        show_default=False,
    ),
]
HostOption = Annotated[str | None, typer.Option("--host", help="Address to listen on")]
PortOption = Annotated[int | None, typer.Option("--port", help="Port to listen on")]


def _export(db: str | None, host: str | None = None, port: int | None = None) -> None:
    """Pass CLI choices to the server (and its worker processes) as environment settings."""
    if db:
        os.environ["QALA_DATABASE_URL"] = db
    if host:
        os.environ["QALA_HOST"] = host
    if port:
        os.environ["QALA_PORT"] = str(port)


#: Seconds a stopping server waits for requests still open before it cuts them: a dashboard's
#: live stream lasts up to a minute, and without a limit a stop would wait for every one of them
#: (the page reconnects on its own, to this server once it is back or to another worker).
SHUTDOWN_GRACE = 5


def _serve(workers: int = 1) -> None:
    import uvicorn

    settings = load_settings()
    console.print(
        f"[bold]Qala {__version__}[/] serving at http://{settings.host}:{settings.port} "
        f"(API docs at /docs), database {settings.database_url}"
    )
    uvicorn.run(
        "qala.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )


@app.command()
def serve(
    db: DbOption = None,
    host: HostOption = None,
    port: PortOption = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Run the server (migrations are applied on start)."""
    _export(db, host, port)
    _serve(workers)


@app.command()
def demo(
    db: DbOption = None,
    host: HostOption = None,
    port: PortOption = None,
    seed: Annotated[int, typer.Option(help="Random seed of the generated city data")] = 2026,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Seed the five cities, then exit")
    ] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="Simulate the demo's devices while serving: qala simulate over MQTT when "
            "the broker is reachable, else in the server",
        ),
    ] = True,
    rate: Annotated[float, typer.Option(help="Live messages per second (all cities)")] = 20.0,
    until: Annotated[
        str | None,
        typer.Option(
            help="End the demo's year of history here (a date, 00:00 UTC, or an ISO date-time) "
            "instead of now; the same seed and --until give the same data",
        ),
    ] = None,
) -> None:
    """Seed the five cities (astana, almaty, shymkent, aktobe, karaganda) with a year of
    history ending now (or at --until), then serve."""
    from qala.demo.generate import demo_anchor
    from qala.demo.seed import seed_demo

    anchor = demo_anchor(_until(until)) if until else demo_anchor()
    _export(db, host, port)
    os.environ.setdefault("QALA_ALLOW_LOCAL_ENDPOINTS", "true")
    settings = load_settings()
    asyncio.run(seed_demo(settings, seed=seed, console=console, anchor=anchor))
    secret = _with_store(_demo_admin_key)
    console.print(
        "\n[bold yellow]Demo admin key[/] (full access to every city; keep it private):\n"
        f"  {secret}\n"
        f"Use it as: curl -H 'Authorization: Bearer {secret}' "
        f"http://{settings.host}:{settings.port}/ngsi-ld/v1/types -H 'NGSILD-Tenant: astana'\n",
        soft_wrap=True,
    )
    from qala.iot.cli import provision_demo, start_demo_simulation
    from qala.iot.simulate import parse_tenants

    devices = asyncio.run(provision_demo(settings.database_url, parse_tenants("all")))
    console.print(f"provisioned {devices} demo IoT devices (GET /iot/devices)")
    if not no_serve:
        # every city's indicators (the last 12 months, the quarter and the year) are computed
        # by the server's schedule, the first run a few seconds after it starts
        os.environ.setdefault("QALA_INDICATORS_COMPUTE_AFTER", "5")
        console.print(
            "city indicators: computed by the server in the background, the current month "
            "first (GET /api/v1/indicators/values?tenant=astana)"
        )
        simulation = start_demo_simulation(rate) if live else None
        try:
            _serve()
        finally:
            if simulation is not None:
                simulation.terminate()
                simulation.wait(10)


def _until(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (2026-01-15) or an ISO date-time (2026-01-15T09:00Z)",
            param_hint="--until",
        ) from None


def _with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``work`` on it, close it."""

    async def run() -> T:
        from qala.store import open_store

        store = open_store(load_settings())
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


DEMO_KEY_NAME = "demo admin"


async def _demo_admin_key(store: Store) -> str:
    """A fresh admin key for the demo; earlier demo keys are revoked."""
    from qala.auth import keys

    for key in await keys.list_keys(store):
        if key.name == DEMO_KEY_NAME and key.active:
            await keys.revoke_key(store, key.id)
    secret, _ = await keys.create_key(store, "admin", None, DEMO_KEY_NAME)
    return secret


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, city-operator, partner, auditor or public")],
    tenant: Annotated[
        str | None,
        typer.Option(help="Bind the key to one tenant (required for city-operator and partner)"),
    ] = None,
    name: Annotated[str, typer.Option(help="A label, e.g. who holds the key")] = "",
    db: DbOption = None,
) -> None:
    """Create an API key and print it, alone, on standard output (it is not shown again)."""
    from qala.auth import keys
    from qala.hub.errors import HubError

    _export(db)
    try:
        secret, key = _with_store(lambda store: keys.create_key(store, role, tenant, name))
    except HubError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(2) from None
    console.print(
        f"created key {key.id} ({key.role}{', tenant ' + key.tenant if key.tenant else ''})"
    )
    typer.echo(secret)


@keys_app.command("list")
def keys_list(db: DbOption = None) -> None:
    """List API keys (their secrets are never shown again)."""
    from qala.auth import keys
    from qala.hub.model import us_to_iso

    _export(db)
    for key in _with_store(keys.list_keys):
        state = f"revoked {us_to_iso(key.revoked_at)}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.role}\t{key.tenant or '-'}\t{key.name}\t{state}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from qala keys list)")],
    db: DbOption = None,
) -> None:
    """Revoke an API key."""
    from qala.auth import keys

    _export(db)
    if not _with_store(lambda store: keys.revoke_key(store, key_id)):
        console.print(f"[red]no active key {key_id!r}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {key_id}")


@app.command()
def seed(
    tenant: Annotated[str, typer.Option(help="Tenant (city) to fill, e.g. astana")],
    scale: Annotated[float, typer.Option(help="Multiple of the city's demo size")] = 1.0,
    db: DbOption = None,
    seed: Annotated[int, typer.Option(help="Random seed")] = 2026,
) -> None:
    """Generate a larger load of city entities in one tenant (for benchmarks)."""
    from qala.demo.seed import seed_tenant

    _export(db)
    settings = load_settings()
    asyncio.run(seed_tenant(settings, tenant, scale=scale, seed=seed, console=console))


@contexts_app.command("add")
def contexts_add(
    url: Annotated[str, typer.Argument(help="The @context URL clients will use")],
    file: Annotated[Path, typer.Argument(help="JSON-LD file with the @context document")],
    db: DbOption = None,
) -> None:
    """Preload a @context so that the broker never fetches it from the network."""
    from qala.jsonld.resolver import StoredContext, context_local_id

    _export(db)
    try:
        document = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        console.print(f"[red]cannot read {file}: {exc}[/]")
        raise typer.Exit(2) from None
    if not isinstance(document, dict) or "@context" not in document:
        console.print(f"[red]{file} is not a JSON-LD document with @context[/]")
        raise typer.Exit(2)

    async def run() -> None:
        import time

        from qala.store import open_store

        store = open_store(load_settings())
        await store.open()
        try:
            await store.save_context(
                StoredContext(context_local_id(url), url, "Cached", document, time.time())
            )
        finally:
            await store.close()

    asyncio.run(run())
    console.print(f"stored {url} from {file}")


@contexts_app.command("list")
def contexts_list(db: DbOption = None) -> None:
    """List the @contexts in the store."""
    _export(db)

    async def run() -> None:
        from qala.store import open_store

        store = open_store(load_settings())
        await store.open()
        try:
            for ctx in await store.contexts():
                typer.echo(f"{ctx.kind}\t{ctx.local_id}\t{ctx.url}")
        finally:
            await store.close()

    asyncio.run(run())


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None) -> None:
    """Apply the database migrations (the server also does this on start)."""
    from qala.store import migrate
    from qala.store.urls import DatabaseURL

    _export(db)
    url = DatabaseURL(load_settings().database_url)
    migrate.upgrade(url)
    console.print(f"database {url} is up to date")


app.command("simulate")(simulate)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
