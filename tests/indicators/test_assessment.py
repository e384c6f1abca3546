"""The national Smart City assessment: bands, weights, rules with evidence, reported answers."""

import asyncio
from datetime import date

import pytest
from tests.indicators.support import AFTER_JANUARY, JANUARY, TENANT, entity, utc

from qala.indicators.assessment import (
    AssessmentError,
    ReportedAnswer,
    assess,
    load_methodology,
    parse_methodology,
)
from qala.indicators.calculators import Context
from qala.indicators.inputs import EntitySnapshot, MemoryInputs


@pytest.mark.parametrize(
    ("percent", "points"),
    [(0, 1), (20, 1), (20.01, 2), (21, 2), (40, 2), (41, 3), (60, 3), (61, 4), (80, 4),
     (80.5, 5), (81, 5), (100, 5)],
)
def test_implementation_percentages_become_points_by_the_published_bands(percent, points):
    assert load_methodology().points(percent) == points


@pytest.mark.parametrize("percent", [-0.1, 100.1])
def test_a_percentage_outside_0_100_is_refused(percent):
    with pytest.raises(AssessmentError, match=r"not within 0\.\.100"):
        load_methodology().points(percent)


def test_the_2018_methodology_holds_the_five_mandatory_areas():
    methodology = load_methodology()
    assert [a.id for a in methodology.areas] == [
        "housing-utilities", "security", "education", "healthcare", "transport",
    ]
    assert methodology.scoring.weights == {"priority": 2, "ict": 2, "additional": 1}
    assert methodology.divisor == 25
    assert not methodology.official


def _methodology(**scoring):
    return parse_methodology(
        {
            "id": "test",
            "title": {"en": "Test", "ru": "Тест", "kk": "Тест"},
            "scoring": {
                "bands": [{"max": 20, "points": 1}, {"max": 40, "points": 2},
                          {"max": 60, "points": 3}, {"max": 80, "points": 4},
                          {"max": 100, "points": 5}],
                "weights": {"priority": 2, "ict": 2, "additional": 1},
                **scoring,
            },
            "areas": [
                {
                    "id": "lighting",
                    "title": {"en": "Lighting", "ru": "Освещение", "kk": "Жарықтандыру"},
                    "class": "priority",
                    "requirements": [
                        {
                            "id": "remote",
                            "title": {"en": "R", "ru": "Р", "kk": "Р"},
                            "rule": {"kind": "indicator-at-least",
                                     "indicator": "iso37122:7.6", "threshold": 80},
                        },
                        {"id": "policy", "title": {"en": "P", "ru": "П", "kk": "П"}},
                    ],
                },
                {
                    "id": "ict",
                    "title": {"en": "ICT", "ru": "ИКТ", "kk": "АКТ"},
                    "class": "ict",
                    "requirements": [
                        {
                            "id": "air-districts",
                            "title": {"en": "A", "ru": "А", "kk": "А"},
                            "rule": {"kind": "every-district-covered",
                                     "type": "AirQualityObserved", "attr": "pm25"},
                        },
                    ],
                },
                {
                    "id": "culture",
                    "title": {"en": "Culture", "ru": "Культура", "kk": "Мәдениет"},
                    "class": "additional",
                    "requirements": [{"id": "museum", "title": {"en": "M", "ru": "М", "kk": "М"}}],
                },
            ],
        }
    )


def _city():
    inputs = MemoryInputs()
    lights = [entity(f"sl:{i}", "Streetlight", controllingMethod="individual") for i in range(5)]
    inputs.add_entities(TENANT, lights)
    for i in range(4):  # four of five report: 80 %
        inputs.observe(TENANT, f"sl:{i}", "illuminanceLevel", utc(2026, 1, 5), 1.0)
    for district, station in (("Esil", "aq:1"), ("Almaty", "aq:2")):
        inputs.add_entity(
            TENANT,
            EntitySnapshot(station, "AirQualityObserved", {"address": {"district": district}}),
        )
    inputs.observe(TENANT, "aq:1", "pm25", utc(2026, 1, 5), 10)
    inputs.observe(TENANT, "aq:2", "pm25", utc(2026, 1, 5), 10)
    return Context(TENANT, JANUARY, inputs, AFTER_JANUARY)


def _answer(req, met):
    return ReportedAnswer(req, met, "akimat letter", date(2026, 1, 20), "operator@astana")


def test_rules_are_evaluated_with_evidence_and_the_rest_is_reported():
    answers = {"policy": _answer("policy", False), "museum": _answer("museum", True)}
    result = asyncio.run(
        assess(_methodology(), _city(), answers, districts=["Esil", "Almaty", "Saryarka"])
    )
    lighting, ict, culture = result.areas
    remote, policy = lighting.requirements
    assert (remote.status, remote.basis) == ("met", "rule")
    assert remote.evidence["value"] == 80.0
    assert remote.evidence["calculator"] == {"name": "streetlights.managed", "version": "1"}
    assert (policy.status, policy.basis) == ("not-met", "reported")
    assert policy.evidence["reported"]["enteredBy"] == "operator@astana"
    assert (lighting.percent, lighting.points, lighting.weighted) == (50.0, 3, 6)
    districts = ict.requirements[0]
    assert districts.status == "not-met"
    assert districts.evidence["missing"] == ["Saryarka"]
    assert (ict.percent, ict.points, ict.weighted) == (0.0, 1, 2)
    assert (culture.percent, culture.points, culture.weighted) == (100.0, 5, 5)
    assert result.total == round((6 + 2 + 5) / 25, 4)
    assert result.complete


def test_an_area_without_any_answer_leaves_the_total_not_computable():
    result = asyncio.run(assess(_methodology(), _city(), {}, districts=None))
    lighting, ict, _ = result.areas
    assert lighting.unanswered == ["policy"]
    assert lighting.percent == 100.0  # over the answered requirement only
    assert ict.requirements[0].reason == "the city's list of districts is not known"
    assert result.total is None
    assert result.reason == "areas without an answered requirement: ict, culture"
    assert not result.complete


def test_a_rule_that_cannot_be_evaluated_falls_back_to_a_reported_answer():
    ctx = Context(TENANT, JANUARY, MemoryInputs(), AFTER_JANUARY)  # no streetlights at all
    answers = {"remote": _answer("remote", True)}
    result = asyncio.run(assess(_methodology(), ctx, answers))
    remote = result.areas[0].requirements[0]
    assert (remote.status, remote.basis) == ("met", "reported")
    assert remote.evidence["reason"] == "no Streetlight entity in the city"


def test_the_divisor_may_be_the_methodologys_maximum():
    methodology = _methodology(divisor="maximum")
    assert methodology.maximum == 5 * 2 + 5 * 2 + 5 * 1
    assert methodology.divisor == 25


def test_answers_to_unknown_requirements_are_refused():
    with pytest.raises(AssessmentError, match="unknown requirements: nope"):
        asyncio.run(assess(_methodology(), _city(), {"nope": _answer("nope", True)}))


def test_a_bad_methodology_names_the_problem():
    with pytest.raises(AssessmentError, match="class 'vip' has no weight"):
        data = _methodology().model_dump(by_alias=True)
        data["areas"][0]["class"] = "vip"
        parse_methodology(data)
    with pytest.raises(AssessmentError, match="the last band must end at 100"):
        data = _methodology().model_dump(by_alias=True)
        data["scoring"]["bands"] = [{"max": 50, "points": 1}]
        parse_methodology(data)
