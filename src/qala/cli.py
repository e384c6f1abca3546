"""The ``qala`` command: serve, seed the demo, manage contexts and the database."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from qala import __version__
from qala.config import load_settings
from qala.temporal.cli import temporal_app

app = typer.Typer(
    name="qala",
    help="Qala, a smart-city platform: NGSI-LD city data hub, live data and more.",
    no_args_is_help=True,
    add_completion=False,
)
contexts_app = typer.Typer(help="JSON-LD @context documents the broker serves offline.")
db_app = typer.Typer(help="The database: migrations.")
app.add_typer(contexts_app, name="contexts")
app.add_typer(db_app, name="db")
app.add_typer(temporal_app, name="temporal")

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
) -> None:
    """Seed the five cities (astana, almaty, shymkent, aktobe, karaganda), then serve."""
    from qala.demo.seed import seed_demo

    _export(db, host, port)
    os.environ.setdefault("QALA_ALLOW_LOCAL_ENDPOINTS", "true")
    settings = load_settings()
    asyncio.run(seed_demo(settings, seed=seed, console=console))
    if not no_serve:
        _serve()


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


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
