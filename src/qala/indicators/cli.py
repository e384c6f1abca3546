"""``qala indicators`` and ``qala standard``: the city indicators from the command line.

Each command opens the database of ``--db`` (or ``QALA_DATABASE_URL``) with the hub's write
path as the server has it (history recording, Smart Data Models validation) and acts as the
administrator ``cli`` of that database; ``--format`` prints a table, JSON or CSV.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from qala.config import load_settings
from qala.hub import Actor, HubError

if TYPE_CHECKING:
    from qala.indicators.service import IndicatorService
    from qala.services import Services

T = TypeVar("T")
indicators_app = typer.Typer(help="City indicators: catalogue, computation, comparison, gaps.")
standard_app = typer.Typer(help="The national Smart City reference-standard assessment.")
statistics_app = typer.Typer(help="City statistics held in the hub (population, area…).")
indicators_app.add_typer(statistics_app, name="statistics")
console = Console(stderr=True)
CLI_ACTOR = Actor(id="cli", role="admin")
CAPABILITIES = ("qala.temporal.capability", "qala.sdm.capability", "qala.indicators.capability")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: QALA_DATABASE_URL or sqlite:///qala.db)",
                 show_default=False),
]
FormatOption = Annotated[Format, typer.Option("--format", help="table, json or csv")]
PeriodOption = Annotated[str | None, typer.Option(help="2026, 2026-Q1 or 2026-03 (default: "
                                                  "the current year)")]


def _run(db: str | None, work: Callable[[IndicatorService, Services], Awaitable[T]]) -> T:
    if db:
        os.environ["QALA_DATABASE_URL"] = db
    settings = load_settings()

    async def run() -> T:
        from qala.app import start_services, stop_services
        from qala.capabilities import load_capabilities
        from qala.indicators.service import IndicatorService

        svc = await start_services(settings, load_capabilities(CAPABILITIES))
        try:
            return await work(svc.state.get(IndicatorService), svc)
        finally:
            await stop_services(svc)

    try:
        return asyncio.run(run())
    except HubError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


def _period(text: str | None) -> Any:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from qala.indicators.period import Period
    from qala.indicators.service import parse_period

    if text is None:
        return Period("year", datetime.now(ZoneInfo("Asia/Almaty")).year, 1)
    try:
        return parse_period(text)
    except HubError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None


def emit(rows: list[dict[str, Any]], columns: list[str], fmt: Format, data: Any = None) -> None:
    """Print ``rows`` as a table or CSV (``columns``), or ``data`` (default: rows) as JSON."""
    if fmt is Format.json:
        typer.echo(orjson.dumps(rows if data is None else data, option=orjson.OPT_INDENT_2))
        return
    if fmt is Format.csv:
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(out.getvalue(), nl=False)
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console(width=160).print(table)


@indicators_app.command("list")
def list_command(
    lang: Annotated[str, typer.Option(help="en, ru or kk")] = "en",
    framework: Annotated[str | None, typer.Option(help="iso37120, iso37122, u4ssc…")] = None,
    db: Annotated[str | None, typer.Option("--db", help="Accepted like every indicators "
                                           "command; the catalogue is package data")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """The indicator catalogue (package data: no database is read)."""
    from qala.indicators.catalogue import load_catalogue

    if lang not in ("en", "ru", "kk"):
        console.print("[red]--lang is en, ru or kk[/]")
        raise typer.Exit(2)
    rows = [
        {
            "id": i.id,
            "number": i.number,
            "framework": i.framework,
            "theme": i.theme,
            "title": i.title.get(lang),
            "unit": i.unit,
            "calculator": i.calculator or ("reported" if i.reported_only else ""),
        }
        for i in load_catalogue()
        if framework is None or i.framework == framework
    ]
    emit(rows, ["id", "number", "title", "unit", "calculator"], fmt)


@indicators_app.command("compute")
def compute_command(
    tenant: Annotated[str, typer.Option(help="The city, e.g. astana")],
    period: PeriodOption = None,
    force: Annotated[bool, typer.Option(help="Recompute even when inputs are unchanged")] = False,
    db: DbOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Compute a city's indicators for a period, store and publish them."""
    chosen = _period(period)

    async def work(service: IndicatorService, svc: Services) -> list[Any]:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(f"{tenant} {chosen.label}", total=len(service.calculators()))

            def step(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, description=f"{tenant} {chosen.label} {name}")

            return await service.compute(tenant, CLI_ACTOR, chosen, force=force, progress=step)

    outcomes = _run(db, work)
    rows = [
        {
            "calculator": f"{o.calculator} v{o.version}",
            "indicators": " ".join(o.indicators),
            "status": o.status,
            "kind": o.kind or "",
            "value": o.value,
        }
        for o in outcomes
    ]
    emit(rows, ["calculator", "indicators", "status", "kind", "value"], fmt,
         [o.to_dict() for o in outcomes])
    computed = sum(o.status == "computed" for o in outcomes)
    console.print(f"{computed} computed, {len(outcomes) - computed} unchanged")


@indicators_app.command("compare")
def compare_command(
    period: PeriodOption = None, db: DbOption = None, fmt: FormatOption = Format.table
) -> None:
    """The cities compared on each indicator they have a value for."""
    chosen = _period(period)

    async def work(service: IndicatorService, svc: Services) -> list[Any]:
        return await service.comparison(CLI_ACTOR, chosen)

    comparisons = _run(db, work)
    rows = [
        {
            "indicator": c.indicator_id,
            "city": s.tenant,
            "rank": s.rank,
            "value": s.value,
            "kind": s.kind,
            "distance to best": s.distance_to_best,
            "score": s.score,
        }
        for c in comparisons
        for s in c.standings
    ]
    emit(rows, ["indicator", "city", "rank", "value", "kind", "distance to best", "score"], fmt,
         [c.to_dict() for c in comparisons])


@indicators_app.command("gaps")
def gaps_command(
    tenant: Annotated[str, typer.Option(help="The city")],
    period: PeriodOption = None,
    db: DbOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Where a city trails its peers and targets, and the data missing per ranking dimension."""
    chosen = _period(period)

    async def work(service: IndicatorService, svc: Services) -> Any:
        return await service.gaps(tenant, CLI_ACTOR, chosen)

    report = _run(db, work)
    data = report.to_dict()
    rows = [
        {"kind": "trails peers", "name": t["indicator"], "detail": f"rank {t['rank']} of "
         f"{t['cities']}, score {t['score']}"}
        for t in data["trailingPeers"]
    ] + [
        {"kind": "trails target", "name": t["indicator"], "detail": f"current {t['current']}, "
         f"target {t['target']} by {t['by']}"}
        for t in data["trailingTargets"]
    ] + [
        {"kind": f"{ranking} dimension", "name": d["dimension"],
         "detail": f"{len(d['withValue'])} with a value, {len(d['missing'])} missing"}
        for ranking, dims in (("IESE", data["iese"]), ("IMD", data["imd"]["areas"]))
        for d in dims
    ]
    emit(rows, ["kind", "name", "detail"], fmt, data)
    if fmt is Format.table:
        console.print(data["imd"]["note"])


@standard_app.command("assess")
def assess_command(
    tenant: Annotated[str, typer.Option(help="The city")],
    period: PeriodOption = None,
    methodology: Annotated[str, typer.Option(help="The methodology file")] = "kz-2018",
    db: DbOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Score a city on the national Smart City reference standard."""
    chosen = _period(period)

    async def work(service: IndicatorService, svc: Services) -> Any:
        return await service.assessment(tenant, CLI_ACTOR, chosen, methodology)

    result = _run(db, work)
    data = result.to_dict()
    rows = [
        {"area": a["id"], "class": a["class"], "percent": a["implementationPercent"],
         "points": a["points"], "weight": a["weight"]}
        for a in data["areas"]
    ]
    emit(rows, ["area", "class", "percent", "points", "weight"], fmt, data)
    if fmt is Format.table:
        console.print(f"total: {data['total']} (maximum {data['maximum']}); {data['reason']}")


@standard_app.command("answer")
def answer_command(
    tenant: Annotated[str, typer.Option(help="The city")],
    requirement: Annotated[str, typer.Option(help="The requirement's id (see `assess`)")],
    met: Annotated[bool, typer.Option("--met/--not-met", help="Whether the city meets it")],
    source: Annotated[str, typer.Option(help="Where the answer comes from")],
    source_date: Annotated[str, typer.Option(help="The source's date, YYYY-MM-DD")],
    note: Annotated[str, typer.Option(help="A note kept with the answer")] = "",
    methodology: Annotated[str, typer.Option(help="The methodology file")] = "kz-2018",
    db: DbOption = None,
) -> None:
    """Answer a requirement the hub cannot check (kept with who and when; a correction is a
    newer answer)."""
    from datetime import UTC, date, datetime

    from qala.indicators.assessment import ReportedAnswer

    try:
        day = date.fromisoformat(source_date)
    except ValueError:
        console.print(f"[red]--source-date {source_date!r} is not a date (YYYY-MM-DD)[/]")
        raise typer.Exit(2) from None
    answer = ReportedAnswer(requirement, met, source, day, CLI_ACTOR.id, datetime.now(UTC), note)

    async def work(service: IndicatorService, svc: Services) -> None:
        await service.add_answer(CLI_ACTOR, tenant, methodology, answer)

    _run(db, work)
    typer.echo(f"{tenant}: {requirement} answered {'met' if met else 'not met'}")


@statistics_app.command("import")
def import_statistics(
    tenant: Annotated[str, typer.Option(help="The city")],
    path: Annotated[Path, typer.Argument(help="CSV: statistic,value,unit,as_of,source,note")],
    db: DbOption = None,
) -> None:
    """Write city statistics from a CSV file as CityStatistic entities."""
    from qala.indicators.city_data import parse_statistics_csv, statistic_entity

    try:
        rows = parse_statistics_csv(path.read_text("utf-8"))
    except (OSError, HubError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None

    async def work(service: IndicatorService, svc: Services) -> int:
        from qala.indicators.hub_inputs import SDM_CONTEXT
        from qala.ngsild.parse import parse_entity

        ctx = await svc.contexts.compile(SDM_CONTEXT)
        entities = [parse_entity(statistic_entity(tenant, row), ctx) for row in rows]
        outcome = await svc.hub.batch_upsert(tenant, entities, CLI_ACTOR, mode="replace")
        for entity_id, error in outcome.errors:
            console.print(f"[red]{entity_id}: {error}[/]")
        return len(outcome.success)

    written = _run(db, work)
    typer.echo(f"{written} statistics written to {tenant}")
