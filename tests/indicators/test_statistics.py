"""The five cities' statistics shipped with the package."""

from datetime import date

from qala.indicators.statistics import city_statistics, missing_statistics, tenants


def test_the_five_cities_have_their_population_with_source_and_date():
    assert tenants() == ["astana", "almaty", "shymkent", "aktobe", "karaganda"]
    astana = {s.name: s for s in city_statistics("astana")}
    assert astana["population"].value == 1638233
    assert astana["population"].as_of == date(2026, 1, 1)
    assert "Bureau of National Statistics" in astana["population"].source


def test_dates_published_as_a_month_or_a_year_say_so():
    aktobe = {s.name: s for s in city_statistics("aktobe")}["population"]
    assert (aktobe.as_of, aktobe.note) == (date(2022, 10, 1), "published as 2022-10 (month)")
    karaganda = {s.name: s for s in city_statistics("karaganda")}["population"]
    assert karaganda.as_of == date(2019, 1, 1)


def test_figures_the_sources_do_not_give_are_absent_not_estimated():
    assert "area_km2" not in {s.name for s in city_statistics("almaty")}
    assert "680" in missing_statistics("almaty")["area_km2"]
    assert "households" in missing_statistics("astana")
