"""Streetlights, stops, EV charging, waste, parking, traffic and citizen requests."""

from datetime import date, timedelta

from tests.indicators.support import (
    TENANT,
    entity,
    measured,
    not_computable,
    population,
    run,
    utc,
)

from qala.indicators.calculators import (
    EVPointsPer100k,
    ParkingRealTime,
    RequestResolutionTime,
    RequestsWithinSLA,
    StationsReporting,
    StopsRealTime,
    StreetlightsManaged,
    StreetlightsWorking,
    TrafficCountsPerCapita,
    WasteFillAtCollection,
    WasteFillSensing,
)
from qala.indicators.inputs import EntitySnapshot, MemoryInputs, ServiceRequestRecord, Statistic

T0 = utc(2026, 1, 10, 0)


def test_a_streetlight_is_managed_when_controlled_individually_and_it_reported():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT,
        [
            entity("sl:1", "Streetlight", controllingMethod="individual"),
            entity("sl:2", "Streetlight", controllingMethod="individual"),
            entity("sl:3", "Streetlight", controllingMethod="group"),
            EntitySnapshot(
                "sl:4",
                "Streetlight",
                {"controllingMethod": "individual", "powerState": "on"},
                {"powerState": T0},
            ),
        ],
    )
    inputs.observe(TENANT, "sl:1", "illuminanceLevel", T0, 0.6)
    inputs.observe(TENANT, "sl:3", "illuminanceLevel", T0, 1.0)  # group control: not counted
    value = measured(run(StreetlightsManaged(), inputs))
    assert value.value == 50.0  # sl:1 and sl:4 of four lights
    assert value.indicator_ids == ("iso37122:7.6",)
    assert value.quality.silent == ("sl:2",)
    assert "3 of 4 lights are controlled individually" in value.quality.notes


def test_no_streetlight_is_not_computable():
    result = not_computable(run(StreetlightsManaged(), MemoryInputs()))
    assert result.reason == "no Streetlight entity in the city"


def test_streetlights_in_working_order_ignore_lights_without_a_status():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT,
        [
            entity("sl:1", "Streetlight", status="ok"),
            entity("sl:2", "Streetlight", status="defectiveLamp"),
            entity("sl:3", "Streetlight", status="ok"),
            entity("sl:4", "Streetlight"),
        ],
    )
    value = measured(run(StreetlightsWorking(), inputs))
    assert round(value.value, 2) == 66.67
    assert "1 lights have no status" in value.quality.notes


def test_stops_with_real_time_information_come_from_live_arrival_estimations():
    inputs = MemoryInputs()
    stops = [entity(f"stop:{i}", "PublicTransportStop") for i in range(1, 5)]
    inputs.add_entities(TENANT, stops)
    result = not_computable(run(StopsRealTime(), inputs))
    assert "no real-time arrival feed" in result.reason
    inputs.add_entities(
        TENANT,
        [
            entity("eta:1", "ArrivalEstimation", hasStop="stop:1"),
            entity("eta:2", "ArrivalEstimation", hasStop=["stop:2", "stop:elsewhere"]),
            entity("eta:3", "ArrivalEstimation", hasStop="stop:3"),  # silent in January
        ],
    )
    inputs.observe(TENANT, "eta:1", "remainingTime", T0, 120)
    inputs.observe(TENANT, "eta:2", "remainingTime", T0, 300)
    value = measured(run(StopsRealTime(), inputs))
    assert value.value == 50.0
    assert value.indicator_ids == ("u4ssc:economy/dynamic-public-transport-information",)
    assert value.quality.silent == ("eta:3",)


def test_ev_charging_points_per_100000_residents():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT,
        [
            entity("ev:1", "EVChargingStation", capacity=2),
            entity("ev:2", "EVChargingStation", capacity=4),
            entity("ev:3", "EVChargingStation"),
        ],
    )
    result = not_computable(run(EVPointsPer100k(), inputs))
    assert result.reason == "no population statistic for the city"
    population(inputs, 300_000)
    value = measured(run(EVPointsPer100k(), inputs))
    assert value.value == 2.0  # 6 points / 3
    assert value.provenance.statistics[0].value == 300_000
    assert value.provenance.statistics[0].source == "statistics bureau"
    assert "1 stations have no capacity" in value.quality.notes


def test_a_zero_population_is_not_computable():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("ev:1", "EVChargingStation", capacity=2))
    population(inputs, 0)
    assert not_computable(run(EVPointsPer100k(), inputs)).reason == "the city's population is 0"


def test_a_statistic_dated_after_the_period_is_used_with_a_note():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("ev:1", "EVChargingStation", capacity=1))
    population(inputs, 100_000, as_of=date(2026, 6, 1))
    value = measured(run(EVPointsPer100k(), inputs))
    assert value.value == 1.0
    assert "population dated 2026-06-01, after the period" in value.quality.notes


def test_the_newest_statistic_before_the_period_end_is_used():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("ev:1", "EVChargingStation", capacity=1))
    population(inputs, 50_000, as_of=date(2020, 1, 1))
    population(inputs, 100_000, as_of=date(2025, 1, 1))
    population(inputs, 200_000, as_of=date(2026, 6, 1))
    assert measured(run(EVPointsPer100k(), inputs)).value == 1.0


def test_waste_containers_with_fill_level_sensing():
    inputs = MemoryInputs()
    inputs.add_entities(TENANT, [entity(f"bin:{i}", "WasteContainer") for i in range(1, 5)])
    inputs.observe(TENANT, "bin:1", "fillingLevel", T0, 0.4)
    inputs.observe(TENANT, "bin:2", "fillingLevel", T0, 0.1)
    inputs.observe(TENANT, "bin:3", "fillingLevel", utc(2025, 12, 1), 0.3)  # before January
    value = measured(run(WasteFillSensing(), inputs))
    assert value.value == 50.0
    assert value.quality.silent == ("bin:3", "bin:4")


def test_mean_fill_at_collection_from_drops_in_the_filling_level():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("bin:1", "WasteContainer"))
    inputs.observe_hourly(
        TENANT, "bin:1", "fillingLevel", T0, [0.2, 0.5, 0.8, 0.1, 0.4, 0.9, 0.2, 0.35]
    )
    # a fall of 0.15 is not an emptying; a drop across a 4-hour gap is not either
    inputs.observe(TENANT, "bin:1", "fillingLevel", T0 + timedelta(hours=12), 0.95)
    inputs.observe(TENANT, "bin:1", "fillingLevel", T0 + timedelta(hours=16), 0.05)
    value = measured(run(WasteFillAtCollection(), inputs))
    assert value.value == 85.0  # emptied at 0.8 and at 0.9
    assert "2 emptyings detected" in value.quality.notes
    assert value.indicator_ids == ("qala:waste/fill-at-collection",)


def test_the_level_at_collection_is_the_highest_seen_around_the_emptying():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("bin:1", "WasteContainer"))
    for minute, level in ((0, 0.70), (30, 0.74), (60, 0.78), (80, 0.82), (100, 0.02)):
        inputs.observe(TENANT, "bin:1", "fillingLevel", T0 + timedelta(minutes=minute), level)
    # hour 1 mean 0.72, hour 2 mean (0.78 + 0.82 + 0.02) / 3 = 0.54: a drop of 0.18 < 0.3
    assert not_computable(run(WasteFillAtCollection(), inputs)).reason.startswith("no emptying")
    value = measured(run(WasteFillAtCollection(drop=0.15), inputs))
    assert value.value == 82.0


def test_parking_spaces_with_real_time_availability_are_weighted_by_size():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT,
        [
            entity("cp:1", "OffStreetParking", totalSpotNumber=100),
            entity("cp:2", "OffStreetParking", totalSpotNumber=50),
            entity("cp:3", "OffStreetParking"),
        ],
    )
    inputs.observe(TENANT, "cp:1", "availableSpotNumber", T0, 12)
    value = measured(run(ParkingRealTime(), inputs))
    assert round(value.value, 4) == 66.6667
    assert value.quality.silent == ("cp:2",)
    assert "1 car parks have no totalSpotNumber" in value.quality.notes


def test_parking_with_no_spaces_is_a_zero_denominator_not_a_zero():
    inputs = MemoryInputs()
    inputs.add_entity(TENANT, entity("cp:1", "OffStreetParking", totalSpotNumber=0))
    result = not_computable(run(ParkingRealTime(), inputs))
    assert result.reason == "the car parks' totalSpotNumber adds up to 0"


def test_traffic_counts_per_capita_add_every_observation():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT, [entity("tf:1", "TrafficFlowObserved"), entity("tf:2", "TrafficFlowObserved")]
    )
    population(inputs, 40)
    for quarter in range(8):  # two hours of 15-minute counts of 10 vehicles
        inputs.observe(TENANT, "tf:1", "intensity", T0 + timedelta(minutes=15 * quarter), 10)
    value = measured(run(TrafficCountsPerCapita(), inputs))
    assert value.value == 2.0  # 80 vehicles / 40 residents
    assert value.provenance.observations == 8
    assert value.quality.silent == ("tf:2",)
    assert value.quality.coverage == round(2 / (2 * 744), 6)


def test_stations_reporting_per_100_km2_need_the_citys_area():
    inputs = MemoryInputs()
    inputs.add_entities(
        TENANT, [entity("aq:1", "AirQualityObserved"), entity("aq:2", "AirQualityObserved")]
    )
    inputs.observe(TENANT, "aq:1", "pm25", T0, 10)
    result = not_computable(run(StationsReporting(), inputs))
    assert result.reason == "no area_km2 statistic for the city"
    inputs.add_statistic(Statistic(TENANT, "area_km2", 400, "km²", "atlas", date(2020, 1, 1)))
    value = measured(run(StationsReporting(), inputs))
    assert value.value == 0.25
    assert value.quality.coverage == 0.5


def test_request_indicators_are_not_computable_until_requests_have_a_source():
    for calculator in (RequestResolutionTime(), RequestsWithinSLA()):
        result = not_computable(run(calculator, MemoryInputs()))
        assert "Open311" in result.reason


def test_request_resolution_time_is_the_median_of_closed_requests():
    inputs = MemoryInputs()
    inputs.enable_service_requests(TENANT)
    for i, hours in enumerate([2, 10, 30]):
        inputs.add_service_request(
            TENANT, ServiceRequestRecord(f"r{i}", "pothole", T0, T0 + timedelta(hours=hours), 24)
        )
    inputs.add_service_request(TENANT, ServiceRequestRecord("open", "pothole", T0, None, 24))
    inputs.add_service_request(
        TENANT, ServiceRequestRecord("nosla", "noise", T0, T0 + timedelta(hours=1))
    )
    value = measured(run(RequestResolutionTime(), inputs))
    assert value.value == 6.0  # median of 2, 10, 30, 1 hours
    within = measured(run(RequestsWithinSLA(), inputs))
    # r0, r1 within 24 h; r2 late; "open" overdue; "nosla" has no target
    assert within.value == 50.0
    assert within.provenance.entities == ("r0", "r1", "r2", "open")


def test_requests_still_within_their_target_are_left_out():
    inputs = MemoryInputs()
    inputs.enable_service_requests(TENANT)
    inputs.add_service_request(TENANT, ServiceRequestRecord("r1", "pothole", T0, None, 48))
    result = not_computable(run(RequestsWithinSLA(), inputs, now=T0 + timedelta(hours=5)))
    assert "no request with a service target has a known outcome" in result.reason
