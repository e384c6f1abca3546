"""The demo's year of history: anchored, deterministic, seasonal, different by city, with gaps."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from qala.app import create_app
from qala.config import Settings
from qala.demo import demo_anchor, generate_city
from qala.demo.profiles import AIR_GAPS, COVERAGE
from qala.demo.year import YEAR, YEAR_TERMS, Block, city_year, to_us
from qala.sdm.contexts import SDM_CONTEXT_URL
from testkit import ADMIN_KEY

ANCHOR = datetime(2026, 3, 1, tzinfo=UTC)  # the year before runs through a whole winter
HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


def _us(moment: datetime) -> int:
    return to_us(moment)


def _blocks(city_key: str, seed: int = 5, anchor: datetime = ANCHOR, scale: float = 1.0):
    entities = list(generate_city(city_key, seed, scale, anchor))
    blocks = city_year(city_key, entities, seed, anchor)
    return entities, {(b.entity_type, b.term): b for b in blocks}


@pytest.fixture(scope="module")
def almaty() -> tuple[list[dict], dict[tuple[str, str], Block]]:
    return _blocks("almaty")


@pytest.fixture(scope="module")
def astana() -> tuple[list[dict], dict[tuple[str, str], Block]]:
    return _blocks("astana")


def _series(block: Block, entity_id: str) -> np.ndarray:
    return block.ts[block.index == block.entity_ids.index(entity_id)]


def _month_mean(block: Block, first: date, last: date) -> float:
    lo = _us(datetime(first.year, first.month, first.day, tzinfo=UTC))
    hi = _us(datetime(last.year, last.month, last.day, tzinfo=UTC))
    return float(block.value[(block.ts >= lo) & (block.ts < hi)].mean())


def test_the_anchor_is_now_rounded_to_the_hour_unless_pinned() -> None:
    now = datetime(2026, 5, 4, 13, 47, 12, 5, tzinfo=UTC)
    assert demo_anchor(now=now) == datetime(2026, 5, 4, 13, tzinfo=UTC)
    assert demo_anchor(date(2026, 1, 15)) == datetime(2026, 1, 15, tzinfo=UTC)
    assert demo_anchor(datetime(2026, 1, 15, 9, 30)) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    almaty_time = datetime.fromisoformat("2026-01-15T14:10:00+05:00")
    assert demo_anchor(almaty_time) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    assert abs(demo_anchor() - datetime.now(UTC)) < timedelta(hours=1, minutes=1)


def test_the_same_seed_and_anchor_give_the_same_year() -> None:
    def flat(blocks: dict[tuple[str, str], Block]) -> Iterator[tuple]:
        for key, b in sorted(blocks.items()):
            yield key, b.entity_ids, b.index.tobytes(), b.ts.tobytes(), b.value.tobytes()

    _, first = _blocks("aktobe", seed=9, scale=0.3)
    _, again = _blocks("aktobe", seed=9, scale=0.3)
    _, other = _blocks("aktobe", seed=10, scale=0.3)
    _, later = _blocks("aktobe", seed=9, scale=0.3, anchor=ANCHOR + timedelta(days=1))
    assert list(flat(first)) == list(flat(again))
    assert list(flat(first)) != list(flat(other))
    assert list(flat(first)) != list(flat(later))


def test_the_year_ends_at_the_anchor_and_covers_every_indicator_attribute(astana) -> None:
    _, blocks = astana
    assert {(t, term) for t, terms in YEAR_TERMS.items() for term in terms} == set(blocks)
    start, end = _us(ANCHOR - YEAR), _us(ANCHOR)
    for key, block in blocks.items():
        assert len(block) and block.ts.min() >= start and block.ts.max() < end, key
        assert block.ts.max() >= end - 2 * DAY_US, key  # reaches the anchor
        assert block.ts.min() < start + 2 * DAY_US, key  # from a year before
        order = np.lexsort((block.ts, block.index))
        assert (order == np.arange(len(block))).all(), key  # sorted by entity, then time
    pm25 = blocks[("AirQualityObserved", "pm25")]
    per_station = np.bincount(pm25.index) / (365 * 24)
    assert np.median(per_station) > 0.97  # hourly, with a few hours missing


def test_almaty_winter_smog_far_above_astana_and_the_summer(almaty, astana) -> None:
    jan, feb = date(2026, 1, 1), date(2026, 2, 1)
    almaty_pm = almaty[1][("AirQualityObserved", "pm25")]
    astana_pm = astana[1][("AirQualityObserved", "pm25")]
    almaty_jan, astana_jan = _month_mean(almaty_pm, jan, feb), _month_mean(astana_pm, jan, feb)
    assert almaty_jan > 2 * astana_jan
    assert almaty_jan > 70
    almaty_jul = _month_mean(almaty_pm, date(2025, 7, 1), date(2025, 8, 1))
    assert almaty_jan > 3 * almaty_jul
    for key in ("karaganda", "shymkent"):
        _, blocks = _blocks(key, scale=0.5)
        pm = blocks[("AirQualityObserved", "pm25")]
        assert _month_mean(pm, jan, feb) > 1.1 * astana_jan, key
    # the diurnal cycle: evenings above afternoons (local = UTC + 5)
    hour = (almaty_pm.ts // HOUR_US + 5) % 24
    evening = almaty_pm.value[(hour >= 19) & (hour <= 23)].mean()
    afternoon = almaty_pm.value[(hour >= 12) & (hour <= 15)].mean()
    assert evening > 1.3 * afternoon


def test_reference_stations_alone_measure_no2_and_so2(almaty) -> None:
    entities, blocks = almaty
    stations = [e for e in entities if e["type"] == "AirQualityObserved"]
    reference = [e["id"] for e in stations if "no2" in e]
    assert len(reference) == COVERAGE["almaty"].reference_stations
    assert set(blocks[("AirQualityObserved", "no2")].entity_ids) == set(reference)
    assert set(blocks[("AirQualityObserved", "pm25")].entity_ids) == {e["id"] for e in stations}


def test_a_station_is_silent_for_weeks_and_one_was_installed_during_the_year(almaty) -> None:
    entities, blocks = almaty
    pm25 = blocks[("AirQualityObserved", "pm25")]
    gaps = AIR_GAPS["almaty"]
    silent = _series(pm25, "urn:ngsi-ld:AirQualityObserved:almaty:000002")
    longest = np.diff(silent).max()
    assert longest >= (gaps.silent_days * 24 - 1) * HOUR_US  # weeks without a value
    assert longest >= 21 * DAY_US
    count = sum(1 for e in entities if e["type"] == "AirQualityObserved")
    newest = _series(pm25, f"urn:ngsi-ld:AirQualityObserved:almaty:{count:06d}")
    installed = _us(ANCHOR) - gaps.installed * DAY_US
    assert abs(int(newest.min()) - installed) < 2 * HOUR_US
    assert newest.size > 0.95 * gaps.installed * 24  # and reports hourly since


def test_coverage_differs_by_city(almaty, astana) -> None:
    def shares(entities: list[dict], blocks: dict) -> dict[str, float]:
        def count(kind: str) -> int:
            return sum(1 for e in entities if e["type"] == kind)

        return {
            "real-time stops": len(blocks[("ArrivalEstimation", "remainingTime")].entity_ids)
            / count("PublicTransportStop"),
            "fill sensors": len(blocks[("WasteContainer", "fillingLevel")].entity_ids)
            / count("WasteContainer"),
            "managed lights": len(blocks[("Streetlight", "illuminanceLevel")].entity_ids)
            / count("Streetlight"),
        }

    big, capital = shares(*almaty), shares(*astana)
    small = shares(*_blocks("karaganda"))
    assert big["real-time stops"] > capital["real-time stops"] > small["real-time stops"] > 0
    assert capital["fill sensors"] > big["fill sensors"] > small["fill sensors"] > 0
    assert capital["managed lights"] > big["managed lights"] > small["managed lights"] > 0


def test_bins_are_emptied_when_fairly_full(astana) -> None:
    block = astana[1][("WasteContainer", "fillingLevel")]
    levels = block.value[block.index == 0]
    before = levels[:-1][np.diff(levels) < -0.3]
    assert before.size > 100 and 0.4 < before.mean() < 1.0


async def _seed(settings: Settings) -> dict[str, int]:
    from qala.demo.seed import seed_demo

    return await seed_demo(
        settings,
        seed=3,
        console=Console(file=io.StringIO()),
        anchor=ANCHOR,
        scale=0.1,
        city_keys=("almaty",),
    )


def test_a_reduced_demo_seeds_a_year_that_the_hub_serves(settings: Settings) -> None:
    counts = asyncio.run(_seed(settings))
    assert counts["almaty"] > 500
    asyncio.run(_seed(settings))  # again: the window is replaced, not doubled
    station = "urn:ngsi-ld:AirQualityObserved:almaty:000001"
    headers = {
        "Authorization": f"Bearer {ADMIN_KEY}",
        "NGSILD-Tenant": "almaty",
        "Link": f'<{SDM_CONTEXT_URL}>; rel="http://www.w3.org/ns/json-ld#context"; '
        'type="application/ld+json"',
    }
    params = {
        "timerel": "between",
        "timeAt": "2025-03-01T00:00:00Z",
        "endTimeAt": "2026-03-01T00:00:00Z",
        "attrs": "pm25",
        "options": "aggregatedValues",
        "aggrMethods": "avg,totalCount",
        "aggrPeriodDuration": "P1M",
    }
    with TestClient(create_app(settings), headers=headers) as client:
        response = client.get(f"/ngsi-ld/v1/temporal/entities/{station}", params=params)
        assert response.status_code == 200, response.text
        pm25 = response.json()["pm25"]
        counts_by_month = [entry[0] for entry in pm25["totalCount"]]
        assert len(counts_by_month) == 12
        assert all(600 <= c <= 744 for c in counts_by_month), counts_by_month  # hourly, once
        means = [entry[0] for entry in pm25["avg"]]
        assert max(means) > 3 * min(means)  # winter against summer
        recent = client.get(
            f"/ngsi-ld/v1/temporal/entities/{station}",
            params={"attrs": "pm25", "timerel": "after", "timeAt": "2026-02-27T00:00:00Z"},
        )
        assert recent.status_code == 200, recent.text
        instances = recent.json()["pm25"]
        assert 40 <= len(instances) <= 49  # the last two days hourly, and the current value
        assert instances[-1]["unitCode"] == "GQ"


def test_the_demos_devices_came_into_service_with_their_history(settings: Settings) -> None:
    """The demo loads each device with its past: the indicators count a station from its
    first observation (its first record in the history), not from the seeding — a month
    before the seeding has its stations, their coverage and the one installed later."""
    from qala.app import start_services, stop_services
    from qala.hub import Actor
    from qala.indicators.calculators import Context, default_registry
    from qala.indicators.period import Period
    from qala.indicators.service import IndicatorService

    asyncio.run(_seed(settings))

    async def compute() -> object:
        svc = await start_services(settings)
        try:
            service = svc.state.get(IndicatorService)
            inputs = await service.inputs(Actor(id="test", role="admin"))
            ctx = Context("almaty", Period.parse("2025-06"), inputs, ANCHOR)
            return await default_registry().get("air.pm25").compute(ctx)
        finally:
            await stop_services(svc)

    result = asyncio.run(compute())
    assert result.kind == "measured", result.to_dict()  # type: ignore[attr-defined]
    quality = result.quality  # type: ignore[attr-defined]
    stations = [e for e in generate_city("almaty", 3, 0.1, ANCHOR)
                if e["type"] == "AirQualityObserved"]  # fmt: skip
    covered = dict(quality.coverage_by_device)
    assert 0 < len(covered) <= len(stations)
    assert 0.5 < quality.coverage <= 1.0
