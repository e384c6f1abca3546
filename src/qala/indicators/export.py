"""Export in the ISO 37120 reporting layout: number, name, value, unit, year, measured/reported.

Pure functions from catalogue and values to rows, and rows to CSV text or JSON-ready lists.
Measured and reported values of the same indicator are separate rows, never merged; a
measured value that could not be computed is a row with an empty value and the reason, when
``include_not_computable`` is set.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from qala.indicators.calculators import IndicatorValues
from qala.indicators.catalogue import Catalogue
from qala.indicators.values import MeasuredValue, NotComputable

COLUMNS = ("number", "name", "value", "unit", "year", "kind", "flagged", "source", "note")


@dataclass(frozen=True, slots=True)
class ReportRow:
    number: str
    name: str
    value: float | None
    unit: str
    year: int
    kind: str  # measured | reported | not computable
    flagged: bool
    source: str
    note: str
    indicator_id: str


def report_rows(
    catalogue: Catalogue,
    values: Mapping[str, IndicatorValues],
    year: int,
    frameworks: Sequence[str] = ("iso37120",),
    language: str = "en",
    include_not_computable: bool = False,
) -> list[ReportRow]:
    rows = []
    for indicator in catalogue:
        if indicator.framework not in frameworks or indicator.id not in values:
            continue
        known = values[indicator.id]
        name = indicator.title.get(language)
        number = indicator.number
        measured = known.measured
        if isinstance(measured, MeasuredValue):
            rows.append(
                ReportRow(
                    number,
                    name,
                    measured.value,
                    measured.unit,
                    year,
                    "measured",
                    measured.flagged,
                    f"Qala {measured.calculator} v{measured.version}",
                    "",
                    indicator.id,
                )
            )
        elif isinstance(measured, NotComputable) and include_not_computable:
            rows.append(
                ReportRow(
                    number,
                    name,
                    None,
                    indicator.unit,
                    year,
                    "not computable",
                    False,
                    f"Qala {measured.calculator} v{measured.version}",
                    measured.reason,
                    indicator.id,
                )
            )
        if known.reported is not None:
            r = known.reported
            rows.append(
                ReportRow(
                    number,
                    name,
                    r.value,
                    r.unit,
                    year,
                    "reported",
                    False,
                    f"{r.source} ({r.source_date.isoformat()}), entered by {r.entered_by}",
                    r.note,
                    indicator.id,
                )
            )
    return rows


def rows_to_json(rows: Iterable[ReportRow]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = asdict(row)
        item["indicator"] = item.pop("indicator_id")
        out.append(item)
    return out


def rows_to_csv(rows: Iterable[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.number,
                row.name,
                "" if row.value is None else f"{row.value:g}",
                row.unit,
                row.year,
                row.kind,
                "yes" if row.flagged else "no",
                row.source,
                row.note,
            ]
        )
    return buffer.getvalue()
