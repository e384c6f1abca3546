"""Shared helpers of the q-language tests: a context, databases that run compiled
filters, and an entity corpus set in a city."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from qala.ngsild.query.compiler import SqlFilter, compile_sql
from qala.ngsild.query.evaluate import compile_matcher
from qala.ngsild.query.json_sql import Dialect

SDM = "https://smartdatamodels.org/dataModel.Environment/"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"

# A few names map to IRIs with characters that need care in SQL and JSON paths.
CONTEXT: dict[str, str] = {
    "pm25": SDM + "pm25",
    "pm10": SDM + "pm10",
    "address": "https://smartdatamodels.org/address",
    "refDevice": "https://smartdatamodels.org/refDevice",
    "status": "https://smartdatamodels.org/status#value",
    "quote": "https://example.org/it's",
    "dotted": "https://example.org/a.b[0]",
}


def expand(name: str) -> str:
    """The test @context: a few known terms, the rest in the default vocabulary."""
    return CONTEXT.get(name, DEFAULT + name)


def evaluate(query: Any, entities: Mapping[int, Mapping[str, Any]]) -> set[int]:
    matcher = compile_matcher(query, expand)
    return {key for key, data in entities.items() if matcher(data)}


class SQLiteRunner:
    """Runs compiled filters on an in-memory SQLite table (``data`` is TEXT)."""

    dialect: Dialect = "sqlite"

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE TABLE entity (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")

    def load(self, entities: Mapping[int, Mapping[str, Any]]) -> None:
        self.db.execute("DELETE FROM entity")
        self.db.executemany(
            "INSERT INTO entity (id, data) VALUES (?, ?)",
            [(key, json.dumps(data)) for key, data in entities.items()],
        )

    def compile(self, query: Any) -> tuple[SqlFilter, list[object]]:
        params: list[object] = []

        def param(value: object) -> str:
            params.append(value)
            return "?"

        return compile_sql(query, expand, "sqlite", "e.data", param), params

    def select(self, query: Any) -> tuple[set[int], bool]:
        sql_filter, params = self.compile(query)
        rows = self.db.execute(f"SELECT e.id FROM entity AS e WHERE {sql_filter.sql}", params)
        return {row[0] for row in rows}, sql_filter.exact

    def close(self) -> None:
        self.db.close()


class PostgresRunner:
    """Runs compiled filters on a table (``data`` is jsonb) in a throw-away schema."""

    dialect: Dialect = "postgresql"

    def __init__(self, connection: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.connection = connection
        self.loop = loop
        self.schema = f"qala_q_{uuid.uuid4().hex[:12]}"
        self.run(f'CREATE SCHEMA "{self.schema}"')
        self.run(
            f'CREATE TABLE "{self.schema}".entity (id integer PRIMARY KEY, data jsonb NOT NULL)'
        )

    @classmethod
    def connect(cls) -> PostgresRunner:
        import asyncpg

        loop = asyncio.new_event_loop()
        try:
            connection = loop.run_until_complete(
                asyncpg.connect(
                    host=os.environ.get("QALA_TEST_PG_HOST", "127.0.0.1"),
                    port=int(os.environ.get("QALA_TEST_PG_PORT", "5432")),
                    user=os.environ.get("QALA_TEST_PG_USER", "postgres"),
                    database=os.environ.get("QALA_TEST_PG_DATABASE", "test"),
                    timeout=5,
                    # As recommended for these filters: JIT compilation of the large
                    # expressions costs far more than it saves.
                    server_settings={"jit": "off"},
                )
            )
        except BaseException:
            loop.close()
            raise
        return cls(connection, loop)

    def run(self, sql: str, *args: object) -> Any:
        return self.loop.run_until_complete(self.connection.execute(sql, *args))

    def load(self, entities: Mapping[int, Mapping[str, Any]]) -> None:
        table = f'"{self.schema}".entity'
        self.run(f"DELETE FROM {table}")
        self.loop.run_until_complete(
            self.connection.executemany(
                f"INSERT INTO {table} (id, data) VALUES ($1, $2::jsonb)",
                [(key, json.dumps(data)) for key, data in entities.items()],
            )
        )

    def compile(self, query: Any) -> tuple[SqlFilter, list[object]]:
        params: list[object] = []

        def param(value: object) -> str:
            params.append(value)
            return f"${len(params)}"

        return compile_sql(query, expand, "postgresql", "e.data", param), params

    def select(self, query: Any) -> tuple[set[int], bool]:
        sql_filter, params = self.compile(query)
        rows = self.loop.run_until_complete(
            self.connection.fetch(
                f'SELECT e.id FROM "{self.schema}".entity AS e WHERE {sql_filter.sql}', *params
            )
        )
        return {row[0] for row in rows}, sql_filter.exact

    def close(self) -> None:
        try:
            self.run(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            self.loop.run_until_complete(self.connection.close())
        finally:
            self.loop.close()


def assert_agrees(runner: SQLiteRunner | PostgresRunner, query: Any, expected: set[int]) -> bool:
    """The SQL selects exactly the expected ids when exact, a superset otherwise.

    Returns the filter's ``exact`` flag.
    """
    selected, exact = runner.select(query)
    if exact:
        assert selected == expected, (
            f"{runner.dialect}: q={query} selected {sorted(selected)}, "
            f"the evaluator matches {sorted(expected)}"
        )
    else:
        assert expected <= selected, (
            f"{runner.dialect}: q={query} (inexact) selected {sorted(selected)}, "
            f"missing {sorted(expected - selected)}"
        )
    return exact


def attribute(value: Any, **members: Any) -> dict[str, Any]:
    """A Property instance."""
    return {"type": "Property", "value": value, **members}


def relationship(target: str | Sequence[str], **members: Any) -> dict[str, Any]:
    return {"type": "Relationship", "object": target, **members}


def language(**strings: Any) -> dict[str, Any]:
    return {"type": "LanguageProperty", "languageMap": strings}


def _station(
    pm25: Any,
    *,
    pm10: Any = None,
    status: str | None = None,
    locality: str | None = None,
    observed: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if pm25 is not None:
        data[expand("pm25")] = attribute(
            pm25, unitCode="GQ", **({"observedAt": observed} if observed else {})
        )
    if pm10 is not None:
        data[expand("pm10")] = attribute(pm10, unitCode="GQ")
    if status is not None:
        data[expand("status")] = attribute(status)
    if locality is not None:
        data[expand("address")] = attribute(
            {"streetAddress": "Abay 10", "addressLocality": locality, "postalCode": "050000"}
        )
    return data


#: A small city: air-quality stations, a parking site, a bus, street lights.
CITY: dict[int, dict[str, Any]] = {
    1: {
        **_station(
            31.5, pm10=120, status="ok", locality="Astana", observed="2026-03-01T10:00:00.000Z"
        ),
        DEFAULT + "name": language(ru="Станция", kk="Бекет", en="Station"),
        expand("refDevice"): relationship("urn:ngsi-ld:Device:1"),
    },
    2: {
        **_station(
            55, pm10=80, status="warning", locality="Almaty", observed="2026-03-01T11:30:00+05:00"
        ),
        DEFAULT + "name": language(en=["Central", "Downtown"], ru="Центр"),
        expand("refDevice"): relationship("urn:ngsi-ld:Device:2"),
    },
    3: _station(12, pm10=150, status="ok", locality="Almaty", observed="2026-02-28T23:59:59.5Z"),
    4: {
        **_station(None, status="error"),
        DEFAULT + "speed": [
            attribute(50, datasetId="urn:ngsi-ld:Dataset:radar"),
            attribute(48),
        ],
        DEFAULT + "route": {"type": "ListProperty", "valueList": ["B1", "B2", "B3"]},
        DEFAULT + "category": {"type": "VocabProperty", "vocab": "https://example.org/bus"},
        DEFAULT + "doors": {
            "type": "ListRelationship",
            "objectList": ["urn:ngsi-ld:Door:1", "urn:ngsi-ld:Door:2"],
        },
    },
    5: {
        DEFAULT + "availableSpotNumber": attribute(
            17,
            observedAt="2026-03-01T09:00:00Z",
            **{
                DEFAULT + "reliability": attribute(0.9),
                DEFAULT + "source": relationship("urn:ngsi-ld:Camera:7"),
            },
        ),
        DEFAULT + "tags": attribute(["parking", "underground", 3]),
        DEFAULT + "opened": attribute({"@type": "DateTime", "@value": "2019-05-01T08:00:00Z"}),
        DEFAULT + "openingDay": attribute("2019-05-01"),
        DEFAULT + "closingTime": attribute("22:00:00Z"),
        DEFAULT + "isFree": attribute(False),
        DEFAULT + "raw": {"type": "JsonProperty", "json": {"sensor": {"id": "S-1", "value": 7}}},
        expand("quote"): attribute("it's"),
        expand("dotted"): attribute(1),
    },
    6: {
        DEFAULT + "powerState": attribute("on"),
        DEFAULT + "illuminanceLevel": attribute(0.75, unitCode="LUX"),
        DEFAULT + "speed": attribute("fast"),
        DEFAULT + "tags": attribute([]),
        DEFAULT + "isFree": attribute(True),
        DEFAULT + "opened": attribute("2019-05-01T09:00:00+02:00"),
    },
    7: {},
}


#: (query, ids of CITY it matches, the rule it illustrates).
EXPECTATIONS: list[tuple[str, set[int], str]] = [
    # comparisons on Property values
    ("pm25>50", {2}, "number greater than"),
    ("pm25>30;pm10>100", {1}, "AND"),
    ('status=="ok"|status=="warning"', {1, 2, 3}, "OR"),
    ("pm25>=55", {2}, "greater or equal"),
    ("pm25<12", set(), "strictly less"),
    ("pm25<=12", {3}, "less or equal"),
    ("pm25==31.5", {1}, "float equality"),
    ("pm25==55.0", {2}, "int equals float"),
    ("pm25==12,55", {2, 3}, "value list"),
    ("pm25==12..40", {1, 3}, "range, bounds included"),
    ("pm25!=12..40", {2}, "outside a range"),
    ("pm25!=55", {1, 3}, "unequal; a missing attribute never matches"),
    ('pm25=="55"', set(), "a string never equals a number"),
    ('pm25!="55"', {1, 2, 3}, "different types are unequal"),
    ('status>"ok"', {2}, "strings in code point order"),
    ('status=="a".."f"', {4}, "string range"),
    # existence
    ("pm25", {1, 2, 3}, "existence"),
    ("!pm25", {4, 5, 6, 7}, "non-existence"),
    # trailing paths into compound values
    ('address[addressLocality]=="Almaty"', {2, 3}, "member of a JSON object value"),
    ("address[postalCode]", {1, 2, 3}, "existence of a member"),
    ("address[zip]", set(), "a missing member is no target"),
    ("!address[zip]", {1, 2, 3, 4, 5, 6, 7}, "non-existence of a member"),
    ('address[addressLocality]!="Almaty"', {1}, "unequal member"),
    ('raw[sensor.id]=="S-1"', {5}, "JsonProperty: trailing path into json"),
    ("raw[sensor.value]>5", {5}, "nested member"),
    # metadata members
    ('pm25.unitCode=="GQ"', {1, 2, 3}, "unitCode"),
    ("pm25.observedAt>2026-03-01T06:00:00Z", {1, 2}, "observedAt compared as instants"),
    ("pm25.observedAt>=2026-03-01T06:30:00Z", {1, 2}, "time zone offsets"),
    ("pm25.observedAt>2026-03-01T06:30:00Z", {1}, "strictly after"),
    ("pm25.observedAt==2026-02-28T23:59:59.5Z", {3}, "fractions of seconds"),
    ("pm25.observedAt==2026-03-01T06:30:00.000000Z", {2}, "equal instants, other spelling"),
    ("pm25.observedAt<2026-03-01", set(), "a date is not a date-time"),
    ('pm25.observedAt=="2026-03-01T10:00:00.000Z"', {1}, "quoted: compared as a string"),
    ("speed.datasetId==urn:ngsi-ld:Dataset:radar", {4}, "datasetId"),
    ("speed.datasetId", {4}, "only the radar instance has a datasetId"),
    # sub-attributes
    ("availableSpotNumber.reliability>=0.9", {5}, "sub-property"),
    ("availableSpotNumber.source==urn:ngsi-ld:Camera:7", {5}, "sub-relationship"),
    ("availableSpotNumber.observedAt<2026-03-01T10:00:00Z", {5}, "observedAt of a property"),
    ("availableSpotNumber.nothing", set(), "missing sub-attribute"),
    # relationships
    ("refDevice==urn:ngsi-ld:Device:1", {1}, "object, unquoted URI"),
    ('refDevice=="urn:ngsi-ld:Device:1"', {1}, "object, quoted"),
    ("refDevice!=urn:ngsi-ld:Device:1", {2}, "object unequal"),
    ('refDevice>"a"', set(), "relationships only take == and !="),
    ('refDevice~="Device"', set(), "relationships only take == and !="),
    ("doors==urn:ngsi-ld:Door:2", {4}, "ListRelationship objectList"),
    # other attribute types
    ('name=="Station"', {1}, "LanguageProperty: any language"),
    ('name=="Downtown"', {2}, "LanguageProperty: an element of a language's array"),
    ('name[ru]=="Центр"', {2}, "LanguageProperty: one language"),
    ('name[en]=="Станция"', set(), "LanguageProperty: another language does not count"),
    ('name[*]=="Бекет"', {1}, "LanguageProperty: [*] is any language"),
    ('name!="Station"', {2}, "LanguageProperty unequal: no language matches"),
    ('name~="^Ст"', {1}, "LanguageProperty pattern"),
    ('route=="B2"', {4}, "ListProperty valueList"),
    ('route!="B2"', set(), "unequal: the array must not include the value"),
    ("category==https://example.org/bus", {4}, "VocabProperty vocab"),
    # arrays and multi-attributes
    ('tags=="underground"', {5}, "an element of an array value"),
    ("tags==3", {5}, "elements of mixed types"),
    ("tags>2", {5}, "any element greater"),
    ('tags!="parking"', {6}, "an empty array includes nothing"),
    ("speed==50", {4}, "any instance of a multi-attribute (radar dataset)"),
    ("speed==48", {4}, "any instance (default instance)"),
    ("speed!=50", {4, 6}, "another instance differs; a string differs from a number"),
    ("speed>49;speed<49", {4}, "each term may match another instance"),
    # temporal values
    ("opened>2019-05-01T07:00:00Z", {5}, "typed DateTime literal"),
    ("opened==2019-05-01T07:00:00Z", {6}, "DateTime string with an offset"),
    ('opened=="2019-05-01T08:00:00Z"', set(), "a typed literal is not a string"),
    ("openingDay>=2019-01-01", {5}, "dates"),
    ("openingDay==2019-05-01T00:00:00Z", set(), "a date is not a date-time"),
    ("closingTime>21:00:00", {5}, "times"),
    # booleans
    ("isFree==false", {5}, "boolean"),
    ("isFree!=true", {5}, "boolean unequal"),
    ("isFree==0", set(), "a boolean is not a number"),
    # regular expressions
    ('status~="^w"', {2}, "pattern, anchored"),
    ('status~="rr"', {4}, "pattern anywhere in the string (search)"),
    ('status~="o.$"', {1, 3, 4}, "pattern with metacharacters"),
    ('status!~="o"', {2}, "not matching"),
    ('pm25~="5"', set(), "patterns never match numbers"),
    ('pm25!~="5"', set(), "nor does their negation"),
    # precedence
    ('status=="ok";pm25>20|status=="error"', {1, 4}, "; binds tighter than |"),
    ('status=="ok";(pm25>20|status=="error")', {1}, "parentheses group"),
    # IRIs that need escaping in SQL
    ('quote=="it\'s"', {5}, "IRI with a quote"),
    ("dotted==1", {5}, "IRI with dots and brackets"),
]
