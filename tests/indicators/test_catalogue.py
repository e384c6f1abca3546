"""The shipped catalogue, and the errors a bad catalogue gets."""

import copy

import pytest
import yaml

from qala.indicators.calculators import default_registry
from qala.indicators.catalogue import CatalogueError, load_catalogue, parse_catalogue, parse_text

FRAMEWORKS = ("iso37120", "iso37122", "u4ssc")


def test_the_catalogue_holds_at_least_60_iso_and_u4ssc_indicators_across_their_themes():
    catalogue = load_catalogue()
    listed = [i for i in catalogue if i.framework in FRAMEWORKS]
    assert len(listed) >= 60
    assert all(any(i.framework == f for i in listed) for f in FRAMEWORKS)
    assert len({i.theme for i in listed if i.framework == "iso37120"}) >= 15


def test_only_published_definitions_have_calculators_and_every_calculator_exists():
    catalogue = load_catalogue()
    for indicator in catalogue:
        if not indicator.published:
            assert indicator.calculator is None, indicator.id
    default_registry().check(catalogue)
    assert catalogue.get("iso37120:8.1").calculator == "air.pm25"
    assert catalogue.get("iso37120:5/unemployment-rate").definition == "not published"


def test_kazakh_titles_use_kazakh_letters():
    kazakh = set("ӘәҒғҚқҢңӨөҰұҮүҺһІі")
    titles = [i.title.kk for i in load_catalogue()]
    assert sum(1 for t in titles if kazakh & set(t)) / len(titles) > 0.8


def _valid():
    return {
        "version": 1,
        "frameworks": {"iso37120": {"title": "ISO 37120"}, "u4ssc": {"title": "U4SSC"}},
        "themes": {"environment": {"number": 8, "en": "Env", "ru": "Среда", "kk": "Орта"}},
        "indicators": [
            {
                "id": "iso37120:8.1",
                "framework": "iso37120",
                "clause": "8.1",
                "theme": "environment",
                "title": {"en": "PM2.5", "ru": "Концентрация PM2.5", "kk": "PM2.5 шоғыры"},
                "better": "lower",
                "definition": {
                    "numerator": "mass",
                    "denominator": "volume",
                    "unit": "µg/m³",
                    "multiplier": 1,
                },
                "calculator": "air.pm25",
            },
            {
                "id": "u4ssc:environment/air-pollution",
                "framework": "u4ssc",
                "u4ssc_dimension": "environment",
                "theme": "environment",
                "title": {"en": "Air", "ru": "Воздух", "kk": "Ауа"},
                "better": "lower",
                "definition": "not published",
            },
        ],
    }


def _broken(change):
    data = copy.deepcopy(_valid())
    change(data)
    return data


def test_a_valid_small_catalogue_loads():
    assert len(parse_catalogue(_valid())) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["indicators"][0].update(better="smaller"),
            "indicator 'iso37120:8.1' (entry 1), field 'better'",
        ),
        (
            lambda d: d["indicators"][1].update(calculator="air.x"),
            "indicator 'u4ssc:environment/air-pollution', field 'calculator': an indicator "
            "whose definition is not published cannot have a calculator",
        ),
        (
            lambda d: d["indicators"][0]["definition"].pop("unit"),
            "indicator 'iso37120:8.1' (entry 1), field 'definition.unit': Field required",
        ),
        (
            lambda d: d["indicators"][0]["title"].update(kk="Fine particulate matter"),
            "field 'title.kk': Value error, must be written in Cyrillic",
        ),
        (
            lambda d: d["indicators"][0]["title"].update(ru="Концентрация particulate"),
            "untranslated Latin words: particulate",
        ),
        (
            lambda d: d["indicators"][0].update(clause="8.2"),
            "field 'id': must be 'iso37120:8.2'",
        ),
        (
            lambda d: d["indicators"][0].update(theme="water"),
            "field 'theme': unknown theme 'water'",
        ),
        (
            lambda d: d["indicators"][1].update(
                crosswalk=[{"id": "iso37120:9.9", "relation": "related"}]
            ),
            "field 'crosswalk': unknown indicator 'iso37120:9.9'",
        ),
        (
            lambda d: d["indicators"].append(copy.deepcopy(d["indicators"][0])),
            "indicator 'iso37120:8.1', field 'id': appears more than once",
        ),
        (
            lambda d: d["indicators"][1].update(
                crosswalk=[{"id": "iso37120:8.1", "relation": "same"}]
            ),
            "'same' quantity as 'iso37120:8.1' needs one calculator for both",
        ),
        (
            lambda d: d["indicators"][1].pop("better"),
            "entry 2), field 'better': Field required",
        ),
    ],
)
def test_a_bad_entry_is_named_with_its_field(change, message):
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(_broken(change), "catalogue.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("catalogue.yaml: ")


def _published_u4ssc(data):
    entry = data["indicators"][1]
    entry["definition"] = dict(data["indicators"][0]["definition"])
    entry["calculator"] = "air.pm25"


def test_one_calculator_for_two_ids_needs_a_same_quantity_crosswalk_both_ways():
    data = _broken(_published_u4ssc)
    with pytest.raises(CatalogueError, match="shared with u4ssc:environment/air-pollution"):
        parse_catalogue(data)
    data["indicators"][0]["crosswalk"] = [
        {"id": "u4ssc:environment/air-pollution", "relation": "same"}
    ]
    data["indicators"][1]["crosswalk"] = [{"id": "iso37120:8.1", "relation": "same"}]
    catalogue = parse_catalogue(data)
    assert [i.id for i in catalogue.by_calculator("air.pm25")] == [
        "iso37120:8.1",
        "u4ssc:environment/air-pollution",
    ]


def test_not_yaml_is_a_clear_error():
    with pytest.raises(CatalogueError, match="not valid YAML"):
        parse_text("indicators: [unclosed", "catalogue.yaml")
    with pytest.raises(CatalogueError, match="'indicators' must be a non-empty list"):
        parse_text(yaml.safe_dump({"version": 1}))
