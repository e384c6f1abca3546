"""Comparison with direction, gaps, targets, reported values and the ISO 37120 export."""

import asyncio
import csv
import io
from datetime import date

import pytest
from tests.indicators.support import (
    AFTER_JANUARY,
    JANUARY,
    TENANT,
    entity,
    measured,
    not_computable,
    run,
    utc,
)

from qala.indicators.calculators import PM25, Context, IndicatorValues, indicator_values
from qala.indicators.catalogue import load_catalogue
from qala.indicators.compare import Target, compare, compare_indicator, gap_report, progress
from qala.indicators.export import report_rows, rows_to_csv, rows_to_json
from qala.indicators.inputs import MemoryInputs
from qala.indicators.values import ReportedValue

CATALOGUE = load_catalogue()
PM = CATALOGUE.get("iso37120:8.1")  # lower is better
LIGHTS = CATALOGUE.get("iso37122:7.6")  # higher is better


def _pm25(value, tenant=TENANT):
    inputs = MemoryInputs()
    inputs.add_entity(tenant, entity("aq:1", "AirQualityObserved"))
    inputs.observe_hourly(tenant, "aq:1", "pm25", utc(2025, 12, 31, 19), [value] * (31 * 24))
    return measured(
        asyncio.run(PM25().compute(Context(tenant, JANUARY, inputs, AFTER_JANUARY)))
    )


def _reported(indicator_id, value, tenant=TENANT, unit="%"):
    return ReportedValue(
        indicator_id, tenant, JANUARY, value, unit, "statistics bureau", date(2026, 2, 10),
        "operator@city", utc(2026, 2, 11),
    )


def test_lower_is_better_ranks_the_cleanest_air_first():
    values = {"astana": _pm25(20, "astana"), "almaty": _pm25(40, "almaty"),
              "aktobe": _pm25(10, "aktobe"), "karaganda": None}
    comparison = compare_indicator(PM, values)
    assert [(s.tenant, s.rank, s.distance_to_best, s.score) for s in comparison.standings] == [
        ("aktobe", 1, 0.0, 100.0),
        ("astana", 2, 10.0, 66.6667),
        ("almaty", 3, 30.0, 0.0),
    ]
    assert comparison.missing == (("karaganda", "no value"),)


def test_higher_is_better_reverses_the_order_and_ties_share_a_rank():
    values = {"a": _reported(LIGHTS.id, 50, "a"), "b": _reported(LIGHTS.id, 90, "b"),
              "c": _reported(LIGHTS.id, 50, "c")}
    comparison = compare_indicator(LIGHTS, values)
    assert [(s.tenant, s.rank, s.score, s.kind) for s in comparison.standings] == [
        ("b", 1, 100.0, "reported"),
        ("a", 2, 0.0, "reported"),
        ("c", 2, 0.0, "reported"),
    ]


def test_a_not_computable_value_is_listed_with_its_reason_not_ranked():
    empty = not_computable(run(PM25(), MemoryInputs()))
    comparison = compare_indicator(PM, {"x": empty, "y": _pm25(5, "y")})
    assert [s.tenant for s in comparison.standings] == ["y"]
    assert comparison.missing == (("x", "no AirQualityObserved entity in the city"),)


def test_equal_values_all_score_100():
    comparison = compare_indicator(PM, {"a": _pm25(7, "a"), "b": _pm25(7, "b")})
    assert [(s.rank, s.score) for s in comparison.standings] == [(1, 100.0), (1, 100.0)]


def test_progress_toward_a_target_is_direction_aware():
    target = Target(TENANT, PM.id, 25.0, date(2027, 12, 31), baseline=45.0, baseline_period="2025")
    p = progress(target, PM, _pm25(35))
    assert (p.current, p.met, p.remaining, p.percent) == (35.0, False, 10.0, 50.0)
    assert progress(target, PM, _pm25(20)).met is True
    up = Target(TENANT, LIGHTS.id, 80.0, date(2027, 1, 1), baseline=20.0)
    p = progress(up, LIGHTS, _reported(LIGHTS.id, 50))
    assert (p.met, p.remaining, p.percent) == (False, 30.0, 50.0)
    assert progress(up, LIGHTS, None).met is None


def test_the_gap_report_names_where_a_city_trails_its_peers_and_targets():
    by_city = {
        "almaty": {PM.id: IndicatorValues(PM.id, _pm25(60, "almaty"), None),
                   LIGHTS.id: IndicatorValues(LIGHTS.id, None, _reported(LIGHTS.id, 90, "almaty"))},
        "astana": {PM.id: IndicatorValues(PM.id, _pm25(20, "astana"), None),
                   LIGHTS.id: IndicatorValues(LIGHTS.id, None, _reported(LIGHTS.id, 60, "astana"))},
        "aktobe": {PM.id: IndicatorValues(PM.id, _pm25(30, "aktobe"), None)},
    }
    comparisons = compare(CATALOGUE, by_city)
    assert [c.indicator_id for c in comparisons] == [PM.id, LIGHTS.id]
    targets = [Target("almaty", PM.id, 25.0, date(2027, 12, 31)),
               Target("astana", PM.id, 25.0, date(2027, 12, 31))]
    report = gap_report("almaty", CATALOGUE, comparisons, by_city["almaty"], targets)
    assert [(i, s.rank, s.score, n) for i, s, n in report.trailing_peers] == [(PM.id, 3, 0.0, 3)]
    assert [p.remaining for p in report.trailing_targets] == [35.0]
    environment = next(d for d in report.iese if d.dimension == "environment")
    assert PM.id in environment.with_value
    assert ("iso37120:8.2", ("AirQualityObserved",)) in environment.missing
    assert len(report.iese) == 9
    outreach = next(d for d in report.iese if d.dimension == "international-outreach")
    assert outreach.coverage is None
    assert outreach.to_dict()["note"] == "no catalogue indicator relates to this dimension"
    assert [a.dimension for a in report.imd] == [
        "health-and-safety", "mobility", "activities", "opportunities", "governance",
    ]
    assert "cannot produce it" in report.imd_note
    assert "score" not in str(report.to_dict()["iese"])


def test_reported_and_measured_values_stay_apart():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:1", "AirQualityObserved"))
    inputs.observe_hourly(TENANT, "aq:1", "pm25", utc(2025, 12, 31, 19), [12.0] * (31 * 24))
    inputs.add_reported(_reported("iso37120:8.1", 14.0, unit="µg/m³"))
    inputs.add_reported(_reported("iso37120:5/unemployment-rate", 4.6))
    ctx = Context(TENANT, JANUARY, inputs, AFTER_JANUARY)
    values = asyncio.run(indicator_values(ctx))
    pm = values["iso37120:8.1"]
    assert (pm.measured.kind, pm.measured.value) == ("measured", 12.0)
    assert (pm.reported.kind, pm.reported.value) == ("reported", 14.0)
    assert pm.best is pm.measured
    unemployment = values["iso37120:5/unemployment-rate"]
    assert unemployment.measured is None and unemployment.best.kind == "reported"
    rows = report_rows(CATALOGUE, values, 2026, include_not_computable=True)
    pm_rows = [(r.number, r.kind, r.value) for r in rows if r.indicator_id == "iso37120:8.1"]
    assert pm_rows == [("8.1", "measured", 12.0), ("8.1", "reported", 14.0)]
    unemployment_row = next(r for r in rows if r.indicator_id == "iso37120:5/unemployment-rate")
    assert (unemployment_row.number, unemployment_row.kind) == ("5.–", "reported")
    assert "entered by operator@city" in unemployment_row.source
    pm10 = next(r for r in rows if r.indicator_id == "iso37120:8.2")
    assert (pm10.kind, pm10.value) == ("not computable", None)
    assert "no day with at least 18 hourly averages" in pm10.note


def test_the_export_writes_csv_and_json_rows_in_the_reporting_layout():
    values = {"iso37120:8.1": IndicatorValues("iso37120:8.1", _pm25(12.5), None)}
    rows = report_rows(CATALOGUE, values, 2026, language="ru")
    text = rows_to_csv(rows)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["number", "name", "value", "unit", "year", "kind", "flagged",
                         "source", "note"]
    assert parsed[1] == ["8.1", "Концентрация мелкодисперсных твёрдых частиц (PM2.5)", "12.5",
                         "µg/m³", "2026", "measured", "no", "Qala air.pm25 v1", ""]
    assert rows_to_json(rows)[0] == {
        "number": "8.1", "name": "Концентрация мелкодисперсных твёрдых частиц (PM2.5)",
        "value": 12.5, "unit": "µg/m³", "year": 2026, "kind": "measured", "flagged": False,
        "source": "Qala air.pm25 v1", "note": "", "indicator": "iso37120:8.1",
    }


def test_a_reported_value_needs_its_source_and_who_entered_it():
    with pytest.raises(ValueError, match="needs its source"):
        ReportedValue("iso37120:8.1", TENANT, JANUARY, 1.0, "%", " ", date(2026, 1, 1), "a",
                      utc(2026, 1, 2))
    with pytest.raises(ValueError, match="who entered it"):
        ReportedValue("iso37120:8.1", TENANT, JANUARY, 1.0, "%", "bureau", date(2026, 1, 1), "",
                      utc(2026, 1, 2))
