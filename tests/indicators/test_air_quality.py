"""Air-quality means by ISO 37120 8.6's rule, on hand-computed fixtures."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from tests.indicators.support import (
    JANUARY,
    TENANT,
    entity,
    measured,
    not_computable,
    run,
    utc,
)

from qala.indicators.calculators import PM25, SO2, Registry
from qala.indicators.inputs import MemoryInputs
from qala.indicators.values import ValueLog

AQ = "AirQualityObserved"
JAN_1_LOCAL = utc(2025, 12, 31, 19)  # 2026-01-01 00:00 in Almaty


def test_daily_means_of_stations_then_the_mean_of_days():
    inputs = MemoryInputs()
    inputs.add_entities(TENANT, [entity("aq:A", AQ), entity("aq:B", AQ)])
    # day 1: A's hours 10 and 20 -> 15; B's hour 30 -> 30; city 22.5. Day 2: A alone, 40.
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [10, 20])
    inputs.observe_hourly(TENANT, "aq:B", "pm25", JAN_1_LOCAL, [30])
    inputs.observe(TENANT, "aq:A", "pm25", JAN_1_LOCAL + timedelta(days=1), 40)
    value = measured(run(PM25(min_hours_per_day=1), inputs))
    assert value.value == 31.25  # (22.5 + 40) / 2
    assert value.unit == "µg/m³"
    assert value.indicator_ids == ("iso37120:8.1",)
    assert value.provenance.observations == 4
    assert value.provenance.entities == ("aq:A", "aq:B")
    # 744 hours expected from each station in January; 3 + 1 present
    assert value.quality.coverage == round(4 / 1488, 6)
    assert dict(value.quality.coverage_by_device) == {
        "aq:A": round(3 / 744, 6),
        "aq:B": round(1 / 744, 6),
    }
    assert value.flagged
    assert "2 of 31 days have a daily mean" in value.quality.notes


def test_several_readings_in_one_hour_count_as_one_hourly_average():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    for minute, reading in ((0, 10), (20, 20), (40, 60)):
        inputs.observe(TENANT, "aq:A", "pm25", JAN_1_LOCAL + timedelta(minutes=minute), reading)
    inputs.observe(TENANT, "aq:A", "pm25", JAN_1_LOCAL + timedelta(hours=1), 50)
    value = measured(run(PM25(min_hours_per_day=1), inputs))
    assert value.value == 40.0  # hours 30 and 50, not readings 10, 20, 60, 50 (35)
    assert value.provenance.observations == 4


def test_days_are_the_citys_local_days_not_utc_days():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    inputs.observe(TENANT, "aq:A", "pm25", utc(2026, 1, 1, 12), 10)  # 17:00 local, 1 Jan
    inputs.observe(TENANT, "aq:A", "pm25", utc(2026, 1, 1, 18, 30), 10)  # 23:30 local, 1 Jan
    inputs.observe(TENANT, "aq:A", "pm25", utc(2026, 1, 1, 19, 30), 30)  # 00:30 local, 2 Jan
    value = measured(run(PM25(min_hours_per_day=1), inputs))
    assert value.value == 20.0  # days 10 and 30; by UTC day it would be 16.667


def test_a_station_day_needs_18_hourly_averages_by_default():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    inputs.observe_hourly(TENANT, "aq:A", "so2", JAN_1_LOCAL, [50] * 17)
    inputs.observe_hourly(TENANT, "aq:A", "so2", JAN_1_LOCAL + timedelta(days=1), [10] * 18)
    value = measured(run(SO2(), inputs))
    assert value.value == 10.0
    assert value.indicator_ids == ("iso37120:8.6",)
    assert ("min_hours_per_day", 18) in value.provenance.parameters


def test_a_gap_in_the_data_lowers_coverage_and_flags_the_value_but_keeps_it():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    hours = [20.0] * (31 * 24)
    for i in range(5 * 24, 31 * 24):  # the station stops after 5 days
        hours[i] = None
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, hours)
    value = measured(run(PM25(), inputs))
    assert value.value == 20.0
    assert value.quality.coverage == round(5 / 31, 6)
    assert value.flagged
    assert value.quality.newest_observation == JAN_1_LOCAL + timedelta(hours=5 * 24 - 1)
    assert value.quality.age_seconds == (26 * 24 + 1) * 3600


def test_a_silent_station_is_listed_and_counts_against_coverage():
    inputs = MemoryInputs()
    inputs.add_entities(TENANT, [entity("aq:A", AQ), entity("aq:silent", AQ)])
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [12.0] * (31 * 24))
    value = measured(run(PM25(), inputs))
    assert value.value == 12.0
    assert value.quality.silent == ("aq:silent",)
    assert value.quality.coverage == 0.5
    assert dict(value.quality.coverage_by_device) == {"aq:A": 1.0, "aq:silent": 0.0}
    assert value.provenance.entities == ("aq:A",)


def test_a_station_added_mid_month_is_expected_only_from_its_creation():
    inputs = MemoryInputs()
    added = utc(2026, 1, 16, 19)  # 17 January, local midnight
    inputs.add_entities(TENANT, [entity("aq:A", AQ), entity("aq:new", AQ, created_at=added)])
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [10.0] * (31 * 24))
    inputs.observe_hourly(TENANT, "aq:new", "pm25", added, [20.0] * (15 * 24))
    value = measured(run(PM25(), inputs))
    # 16 days at 10, then 15 days at (10 + 20) / 2
    assert value.value == round((16 * 10 + 15 * 15) / 31, 3)
    assert value.quality.coverage == 1.0
    assert not value.flagged


def test_a_station_created_after_the_period_is_not_part_of_it():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT, [entity("aq:A", AQ), entity("aq:later", AQ, created_at=utc(2026, 2, 10))]
    )
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [10.0] * (31 * 24))
    value = measured(run(PM25(), inputs))
    assert value.quality.silent == ()
    assert value.quality.coverage == 1.0


def test_a_running_period_expects_observations_only_until_now():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [10.0] * 48)
    value = measured(run(PM25(), inputs, now=JAN_1_LOCAL + timedelta(days=2, minutes=30)))
    assert value.quality.coverage == round(48 / 48.5, 6)
    assert value.quality.age_seconds == 3600 + 1800


def test_no_station_or_no_usable_day_is_not_computable_never_zero():
    inputs = MemoryInputs()
    result = not_computable(run(PM25(), inputs))
    assert result.reason == "no AirQualityObserved entity in the city"
    assert result.value is None
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [10.0] * 5)
    result = not_computable(run(PM25(), inputs))
    assert "no day with at least 18 hourly averages" in result.reason
    assert result.quality is not None and result.quality.coverage == round(5 / 744, 6)


class PM25Version2(PM25):
    """A changed method: any hour makes a day."""

    version = "2"
    defaults: ClassVar[Mapping[str, Any]] = {"min_hours_per_day": 1}


def test_a_new_method_version_is_recorded_beside_the_old_values_not_over_them():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("aq:A", AQ))
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL, [30.0] * 18)
    inputs.observe_hourly(TENANT, "aq:A", "pm25", JAN_1_LOCAL + timedelta(days=1), [10.0] * 6)
    registry = Registry([PM25()])
    log = ValueLog()
    old = measured(run(registry.get("air.pm25"), inputs, now=utc(2026, 2, 1)))
    log.record(old)
    registry.register(PM25Version2())
    assert registry.versions("air.pm25") == ["1", "2"]
    new = measured(run(registry.get("air.pm25"), inputs, now=utc(2026, 2, 2)))
    log.record(new)
    kept = log.versions(TENANT, "iso37120:8.1", JANUARY)
    assert [(v.version, v.value) for v in kept] == [("1", 30.0), ("2", 20.0)]
    assert log.latest(TENANT, "iso37120:8.1", JANUARY) == new
    # recomputing with the same version replaces only that version's value
    again = measured(run(registry.get("air.pm25", "1"), inputs, now=utc(2026, 2, 3)))
    log.record(again)
    assert [v.version for v in log.versions(TENANT, "iso37120:8.1", JANUARY)] == ["2", "1"]
