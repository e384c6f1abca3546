"""``qala programme import|verify`` and ``qala audit``: the programme monitor from the shell.

Each command opens the store of ``--db`` (or ``QALA_DATABASE_URL``) and reads the hub through
its public face, as the server does.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qala.config import load_settings
from qala.hub import HubError
from qala.programme.demo import PROGRAMME_ID

programme_app = typer.Typer(help="The programme monitor: import and verify programmes.")
console = Console(stderr=True)
T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: QALA_DATABASE_URL or sqlite:///qala.db)",
        show_default=False,
    ),
]
ProgrammeOption = Annotated[str, typer.Option("--programme", help="The programme's id")]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Only this city (default: every city)")
]
AtOption = Annotated[
    str | None,
    typer.Option("--at", help="The moment (ISO 8601, e.g. 2026-01-15T15:00:00Z; default: now)"),
]


def _moment(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        console.print(f"[red]--at {at!r} is not an ISO 8601 date and time[/]")
        raise typer.Exit(2) from None
    if moment.tzinfo is None:
        console.print("[red]--at needs a time zone (e.g. Z or +05:00)[/]")
        raise typer.Exit(2)
    return moment.astimezone(UTC)


def _run(db: str | None, work: Callable[[Any], Awaitable[T]]) -> T:
    """Open the store and a hub over it, run ``work(services)``, close the store; a HubError
    is printed and exits with status 1."""
    if db:
        os.environ["QALA_DATABASE_URL"] = db
    settings = load_settings()

    async def run() -> T:
        from qala.app import builtin_contexts
        from qala.hub import Hub
        from qala.jsonld.resolver import ContextResolver
        from qala.services import Services, open_storage

        store = await open_storage(settings)
        try:
            contexts = ContextResolver(repository=store, builtin=builtin_contexts())
            return await work(Services(settings, store, Hub(store), contexts))
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except HubError as exc:
        console.print(f"[red]{exc.detail}[/]")
        raise typer.Exit(1) from None


@programme_app.command("import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV table (named after its sheet: projects.csv, contracts.csv…), an XLSX "
            "workbook, an OCDS release package or an OC4IDS project package (.json)",
            exists=True,
            dir_okay=False,
        ),
    ],
    programme: ProgrammeOption = PROGRAMME_ID,
    tenant: Annotated[
        str | None, typer.Option(help="OC4IDS: the city of every project in the package")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="OCDS: the project the releases belong to")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept with every revision)")] = "imported",
    actor: Annotated[str, typer.Option(help="Who imports (kept with every revision)")] = "cli",
    db: DbOption = None,
) -> None:
    """Import a file into a programme: all of it, or nothing with every error listed."""
    from qala.programme import importing, packages
    from qala.programme.repository import Repository

    data = file.read_bytes()
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".json"):
        console.print(f"[red]{file.name}: import takes .csv, .xlsx or .json files[/]")
        raise typer.Exit(2)

    async def work(svc: Any) -> int:
        repo = Repository(svc.store)
        existing = await repo.revisions(programme)
        who = {"actor": actor, "reason": reason, "at": datetime.now(UTC), "document": file.name}
        if suffix == ".csv":
            revisions = importing.import_csv(programme, existing, {file.stem: data}, **who)
        elif suffix == ".xlsx":
            revisions = importing.import_xlsx(programme, existing, data, **who)
        else:
            package = packages.load_json(data)
            if isinstance(package, dict) and "releases" in package:
                revisions = packages.import_ocds(
                    programme, existing, package, project=project, **who
                )
            else:
                revisions = packages.import_oc4ids(
                    programme, existing, package, tenant=tenant, **who
                )
        return len(await repo.append(programme, revisions)) if revisions else 0

    count = _run(db, work)
    typer.echo(f"imported {count} revisions into {programme} from {file.name}")


@programme_app.command("verify")
def verify_command(
    programme: ProgrammeOption = PROGRAMME_ID,
    tenant: TenantOption = None,
    at: AtOption = None,
    db: DbOption = None,
) -> None:
    """Evaluate the deliverables against the hub (the evaluations are kept)."""
    from qala.programme.hub_inputs import HubInputs
    from qala.programme.repository import Repository
    from qala.programme.service import verify

    moment = _moment(at)

    async def work(svc: Any) -> list[Any]:
        repo = Repository(svc.store)
        state = await repo.state(programme)
        if not state.projects:
            raise HubError(f"programme {programme!r} has no projects")
        total = sum(
            1
            for d in state.deliverables.values()
            if tenant is None or state.projects[d.project].tenant == tenant
        )
        inputs = await HubInputs.of(svc)
        with Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("verifying deliverables", total=total)
            return await verify(
                repo,
                inputs,
                programme,
                moment,
                tenant=tenant,
                state=state,
                each=lambda ev: bar.advance(task),
            )

    results = _run(db, work)
    for ev in results:
        typer.echo(
            f"{ev.deliverable}\t{ev.tenant}\t{ev.reporting}/{ev.target} reporting "
            f"({ev.matching} matching)\t{ev.delivered_percent} %\t"
            + ("met" if ev.met else "not met")
        )
    met = sum(1 for ev in results if ev.met)
    console.print(f"{len(results)} deliverables evaluated at {moment.isoformat()}: {met} met")


def audit_command(
    tenant: TenantOption = None,
    format: Annotated[
        str, typer.Option("--format", help="md, html, json or csv (the flags)")
    ] = "md",
    programme: ProgrammeOption = PROGRAMME_ID,
    at: AtOption = None,
    db: DbOption = None,
) -> None:
    """Print the audit report: progress and every flag with its evidence."""
    from qala.programme.hub_inputs import HubInputs
    from qala.programme.repository import Repository
    from qala.programme.routes.reports import render_text
    from qala.programme.service import programme_ids, run_audit

    if format not in ("md", "html", "json", "csv"):
        console.print(f"[red]--format takes md, html, json or csv, not {format!r}[/]")
        raise typer.Exit(2)
    moment = _moment(at)

    async def work(svc: Any) -> str:
        repo = Repository(svc.store)
        if programme not in await programme_ids(repo):
            raise HubError(f"there is no programme {programme!r}")
        inputs = await HubInputs.of(svc)
        report = await run_audit(repo, inputs, programme, moment, tenant=tenant)
        return render_text(report, format)

    typer.echo(_run(db, work), nl=False)
