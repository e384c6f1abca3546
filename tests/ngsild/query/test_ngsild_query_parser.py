"""The q parser: every construct of the NGSI-LD query language, and every error."""

from __future__ import annotations

import pytest

from qala.ngsild.query import (
    And,
    AttrPath,
    Comparison,
    Exists,
    Kind,
    Literal,
    Op,
    Or,
    Pattern,
    QueryLimits,
    QuerySyntaxError,
    QueryTooComplex,
    Range,
    ValueList,
    parse_query,
)


def path(*names: str, trailing: tuple[str, ...] = ()) -> AttrPath:
    return AttrPath(names, trailing)


def cmp(name: str, op: Op, value: object) -> Comparison:
    assert isinstance(value, Literal | Range | ValueList | Pattern)
    return Comparison(path(name), op, value)


def num(value: int | float) -> Literal:
    return Literal(Kind.NUMBER, value)


def text(value: str) -> Literal:
    return Literal(Kind.STRING, value)


# -- query terms ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "op"),
    [
        ("pm25==50", Op.EQ),
        ("pm25!=50", Op.NE),
        ("pm25>50", Op.GT),
        ("pm25>=50", Op.GE),
        ("pm25<50", Op.LT),
        ("pm25<=50", Op.LE),
    ],
)
def test_each_comparison_operator(query: str, op: Op) -> None:
    assert parse_query(query) == cmp("pm25", op, num(50))


def test_pattern_operators_take_a_regular_expression() -> None:
    assert parse_query('name~="^Bus.*"') == cmp("name", Op.MATCH, Pattern("^Bus.*"))
    assert parse_query('name!~="^Bus.*"') == cmp("name", Op.NOT_MATCH, Pattern("^Bus.*"))


def test_existence_and_non_existence() -> None:
    assert parse_query("pm25") == Exists(path("pm25"))
    assert parse_query("!pm25") == Exists(path("pm25"), negated=True)
    assert parse_query("!address[postalCode]") == Exists(
        path("address", trailing=("postalCode",)), negated=True
    )


# -- values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("a==0", num(0)),
        ("a==-7", num(-7)),
        ("a==31.5", num(31.5)),
        ("a==-0.25", num(-0.25)),
        ("a==1e3", num(1000.0)),
        ("a==2.5E-2", num(0.025)),
        ("a==12345678901234567890", num(12345678901234567890)),
        ('a=="ok"', text("ok")),
        ('a==""', text("")),
        ('a=="say \\"hi\\""', text('say "hi"')),
        ('a=="a;b|c(d)e,f..g"', text("a;b|c(d)e,f..g")),
        ('a=="\\u0410\\n"', text("А\n")),
        ('a=="Алматы"', text("Алматы")),
        ("a==true", Literal(Kind.BOOLEAN, True)),
        ("a==false", Literal(Kind.BOOLEAN, False)),
        ("a==2018-08-07T12:00:00Z", Literal(Kind.DATETIME, "2018-08-07T12:00:00Z")),
        ("a==2018-08-07T12:00:00.123Z", Literal(Kind.DATETIME, "2018-08-07T12:00:00.123Z")),
        ("a==2018-08-07T12:00:00-03:30", Literal(Kind.DATETIME, "2018-08-07T12:00:00-03:30")),
        ("a==2018-08-07T12:00:00", Literal(Kind.DATETIME, "2018-08-07T12:00:00")),
        ("a==2018-08-07", Literal(Kind.DATE, "2018-08-07")),
        ("a==12:00:00Z", Literal(Kind.TIME, "12:00:00Z")),
        ("a==12:00:00.5", Literal(Kind.TIME, "12:00:00.5")),
        ("a==urn:ngsi-ld:Device:1", Literal(Kind.URI, "urn:ngsi-ld:Device:1")),
        ("a==https://example.org/a/b?c=d#e", Literal(Kind.URI, "https://example.org/a/b?c=d#e")),
        ("a==ex:Bus", Literal(Kind.URI, "ex:Bus")),
    ],
)
def test_values(query: str, value: Literal) -> None:
    parsed = parse_query(query)
    assert isinstance(parsed, Comparison)
    assert parsed.value == value
    assert type(parsed.value.value) is type(value.value)  # type: ignore[union-attr]


def test_a_plus_sign_turned_into_a_space_by_url_decoding_is_restored() -> None:
    parsed = parse_query("a>2018-08-07T12:00:00 02:00")
    assert parsed == cmp("a", Op.GT, Literal(Kind.DATETIME, "2018-08-07T12:00:00+02:00"))


@pytest.mark.parametrize(
    ("query", "low", "high"),
    [
        ("a==1..5", num(1), num(5)),
        ("a==-1.5..2.5", num(-1.5), num(2.5)),
        ('a=="a".."z"', text("a"), text("z")),
        (
            "a==2018-01-01T00:00:00Z..2018-02-01T00:00:00Z",
            Literal(Kind.DATETIME, "2018-01-01T00:00:00Z"),
            Literal(Kind.DATETIME, "2018-02-01T00:00:00Z"),
        ),
        (
            "a==2018-01-01..2018-12-31",
            Literal(Kind.DATE, "2018-01-01"),
            Literal(Kind.DATE, "2018-12-31"),
        ),
        ("a!=08:00:00..18:00:00", Literal(Kind.TIME, "08:00:00"), Literal(Kind.TIME, "18:00:00")),
    ],
)
def test_ranges(query: str, low: Literal, high: Literal) -> None:
    parsed = parse_query(query)
    assert isinstance(parsed, Comparison)
    assert parsed.value == Range(low, high)


def test_value_lists() -> None:
    assert parse_query("a==1,2,3") == cmp("a", Op.EQ, ValueList((num(1), num(2), num(3))))
    assert parse_query('a=="x","y"') == cmp("a", Op.EQ, ValueList((text("x"), text("y"))))
    assert parse_query('a!=1,"x",true,urn:a:b') == cmp(
        "a",
        Op.NE,
        ValueList((num(1), text("x"), Literal(Kind.BOOLEAN, True), Literal(Kind.URI, "urn:a:b"))),
    )


def test_unquoted_regular_expressions_end_at_a_logical_operator() -> None:
    assert parse_query("name~=^St(a|b)c;x") == And(
        (cmp("name", Op.MATCH, Pattern("^St(a|b)c")), Exists(path("x")))
    )
    assert parse_query("(name~=a.*b)") == cmp("name", Op.MATCH, Pattern("a.*b"))


def test_quoted_regular_expressions_keep_escapes_verbatim() -> None:
    assert parse_query(r'name~="a\.b\"c;|"') == cmp("name", Op.MATCH, Pattern(r"a\.b\"c;|"))


# -- attribute paths ------------------------------------------------------------------


def test_sub_attribute_and_metadata_paths() -> None:
    parsed = parse_query("availableSpotNumber.reliability>0.5")
    assert isinstance(parsed, Comparison)
    assert parsed.path == path("availableSpotNumber", "reliability")
    assert parsed.path.attributes == ("availableSpotNumber", "reliability")
    assert parsed.path.metadata is None

    parsed = parse_query("pm25.observedAt>=2017-12-24T12:00:00Z")
    assert isinstance(parsed, Comparison)
    assert parsed.path.metadata == "observedAt"
    assert parsed.path.attributes == ("pm25",)

    for member in ("observedAt", "createdAt", "modifiedAt", "unitCode", "datasetId"):
        parsed = parse_query(f"a.b.{member}")
        assert isinstance(parsed, Exists)
        assert parsed.path.metadata == member
        assert parsed.path.attributes == ("a", "b")


def test_trailing_paths_into_compound_values() -> None:
    expected = path("address", trailing=("addressLocality",))
    assert parse_query('address[addressLocality]=="Almaty"') == Comparison(
        expected, Op.EQ, text("Almaty")
    )
    deep = path("sensor", "rawdata", trailing=("airquality", "particulate"))
    assert parse_query("sensor.rawdata[airquality.particulate]==40") == Comparison(
        deep, Op.EQ, num(40)
    )
    assert parse_query("sensor.rawdata[airquality][particulate]==40") == Comparison(
        deep, Op.EQ, num(40)
    )
    assert parse_query("name[*]") == Exists(path("name", trailing=("*",)))
    assert parse_query("x[@value]") == Exists(path("x", trailing=("@value",)))
    assert parse_query("x[my-key.0]") == Exists(path("x", trailing=("my-key", "0")))


def test_names_may_be_unicode_and_compact_iris() -> None:
    assert parse_query("температура>20") == cmp("температура", Op.GT, num(20))
    assert parse_query("schema:name") == Exists(path("schema:name"))
    assert parse_query("pm2_5") == Exists(path("pm2_5"))


# -- logical structure and precedence --------------------------------------------------


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Exists(path(name)) for name in "abc")
    assert parse_query("a;b|c") == Or((And((a, b)), c))
    assert parse_query("a|b;c") == Or((a, And((b, c))))
    assert parse_query("(a|b);c") == And((Or((a, b)), c))


def test_groups_nest_and_flatten() -> None:
    a, b, c, d = (Exists(path(name)) for name in "abcd")
    assert parse_query("((a))") == a
    assert parse_query("(a;b);(c;d)") == And((a, b, c, d))
    assert parse_query("a|(b|(c|d))") == Or((a, b, c, d))
    assert parse_query("((a|b);c)|d") == Or((And((Or((a, b)), c)), d))


def test_spec_examples() -> None:
    speed = cmp("speed", Op.GT, num(50))
    rpm = cmp("rpm", Op.GT, num(3000))
    brand = cmp("brandName", Op.EQ, text("Mercedes"))
    assert parse_query('((speed>50|rpm>3000);brandName=="Mercedes")') == And(
        (Or((speed, rpm)), brand)
    )
    assert parse_query("(temperature>=20;temperature<=25)|capacity<=10") == Or(
        (
            And((cmp("temperature", Op.GE, num(20)), cmp("temperature", Op.LE, num(25)))),
            cmp("capacity", Op.LE, num(10)),
        )
    )
    assert parse_query('isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"') == cmp(
        "isParked", Op.EQ, text("urn:ngsi-ld:OffStreetParking:Downtown1")
    )


def test_whitespace_between_tokens_is_ignored() -> None:
    spaced = parse_query(' ( pm25 > 50 ; pm10 == 1 , 2 ) | ! status | name[en] ~= "x" ')
    assert spaced == parse_query('(pm25>50;pm10==1,2)|!status|name[en]~="x"')


def test_whitespace_is_kept_inside_strings() -> None:
    assert parse_query('a == " x "') == cmp("a", Op.EQ, text(" x "))


# -- canonical form ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("pm25>50;pm10>100", "pm25>50;pm10>100"),
        ("(a|b);c", "(a|b);c"),
        ("a|(b;c)", "a|b;c"),
        ("((a))", "a"),
        ("a[x][y]", "a[x.y]"),
        ("a == 1 , 2", "a==1,2"),
        ("a==1e3", "a==1000.0"),
        ('a=="\\u0041"', 'a=="A"'),
        ("n~=^a.*", 'n~="^a.*"'),
        ("t>2018-08-07T12:00:00 02:00", "t>2018-08-07T12:00:00+02:00"),
        ("!  a", "!a"),
    ],
)
def test_str_gives_the_canonical_query(query: str, canonical: str) -> None:
    parsed = parse_query(query)
    assert str(parsed) == canonical
    assert parse_query(str(parsed)) == parsed


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "the query is empty", 0),
        ("   ", "the query is empty", 3),
        ("a=1", "use '=='", 1),
        ("a===1", "invalid value '=1'", 3),
        ("a~1", "use '~='", 1),
        ("a!1", "expected '!=' or '!~='", 1),
        ("a b", "expected an operator", 2),
        ("sensor{humidity}==40", "linked-entity paths", 6),
        ("a==", "expected a value after '=='", 3),
        ("a==;b", "expected a value after '=='", 3),
        ("a==ok", "strings must be double-quoted", 3),
        ("a==5x", "invalid value '5x'", 3),
        ('a=="x', "unterminated string", 3),
        ('a=="\\x"', "invalid string literal", 3),
        ('a=="\\u0000"', "NUL", 3),
        ('a=="\\ud800"', "unpaired surrogates", 3),
        ("a==1e999", "out of range", 3),
        ("a==2018-02-30", "not a valid date", 3),
        ("a==2018-01-01T24:00:00Z", "not a valid dateTime", 3),
        ("a==25:00:00", "not a valid time", 3),
        ("a>true", "'>' compares numbers", 2),
        ("a<urn:x:y", "is a uri", 2),
        ("a>1..5", "expected ';', '|' or the end", 3),
        ("a>1,2", "expected ';', '|' or the end", 3),
        ("a==true..false", "a range needs comparable bounds", 3),
        ('a==1.."z"', "both bounds of a range must be of one kind", 6),
        ("a==1,2..3", "a value list cannot contain ranges", 6),
        ("a~=", "expected a regular expression", 3),
        ("a~=;b", "expected a regular expression", 3),
        ('a~="(x"', "invalid regular expression", 3),
        ('a~="x', "unterminated regular expression", 3),
        ("(a", "missing ')'", 0),
        ("(a;b", "missing ')'", 0),
        ("(a b)", "expected an operator", 3),
        ("a)", "unbalanced ')'", 1),
        ("()", "expected a query term", 1),
        ("a;", "expected a query term, found the end", 2),
        ("a||b", "expected a query term, found '|'", 2),
        (";a", "expected a query term, found ';'", 0),
        ("!(a)", "'!' can only negate an attribute path", 1),
        ("!a==1", "cannot be followed by an operator", 2),
        ("1a", "expected an attribute name", 0),
        ("_a", "expected an attribute name", 0),
        ("a.", "expected a sub-attribute name", 2),
        ("a..b", "expected a sub-attribute name", 2),
        ("a.observedAt.b", "'observedAt' can only end an attribute path", 12),
        ("a.unitCode[x]", "cannot be followed by a trailing path", 10),
        ("a[]", "expected a member name", 2),
        ("a[x", "expected ']'", 3),
        ("a[x.]", "expected a member name", 4),
        ("a[*.x]", "'*' can only end a trailing path", 0),
        ("a[x]y", "expected an operator", 4),
        ("a==1 b", "expected ';', '|' or the end", 5),
        ("(a==1 b)", "expected ';', '|' or ')'", 6),
    ],
)
def test_syntax_errors_say_what_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    error = caught.value
    assert message in str(error)
    assert error.position == position
    assert isinstance(error, ValueError)
    if query.strip():
        assert "at character" in str(error)


def test_syntax_error_message_points_at_the_failure() -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("pm25>50;pm10>>100")
    message = str(caught.value)
    assert message.startswith("invalid value '>100'")
    assert message.endswith("(at character 14: pm25>50;pm10>⟨here⟩>100)")


# -- complexity limits ----------------------------------------------------------------


def test_too_many_terms() -> None:
    limits = QueryLimits(max_terms=3)
    parse_query("a;b;c", limits=limits)
    with pytest.raises(QueryTooComplex) as caught:
        parse_query("a;b;c;d", limits=limits)
    assert caught.value.limit == "max_terms"
    assert isinstance(caught.value, ValueError)


def test_too_deep() -> None:
    limits = QueryLimits(max_depth=2)
    parse_query("((a))", limits=limits)
    with pytest.raises(QueryTooComplex) as caught:
        parse_query("(((a)))", limits=limits)
    assert caught.value.limit == "max_depth"


def test_deep_nesting_is_refused_without_recursion_errors() -> None:
    with pytest.raises(QueryTooComplex):
        parse_query("(" * 5000 + "a" + ")" * 5000, limits=QueryLimits(max_length=20000))


def test_too_long() -> None:
    with pytest.raises(QueryTooComplex) as caught:
        parse_query("a" * 5000)
    assert caught.value.limit == "max_length"


def test_too_many_values_in_a_list() -> None:
    limits = QueryLimits(max_values=3)
    parse_query("a==1,2,3", limits=limits)
    with pytest.raises(QueryTooComplex) as caught:
        parse_query("a==1,2,3,4", limits=limits)
    assert caught.value.limit == "max_values"


def test_pattern_too_long() -> None:
    limits = QueryLimits(max_pattern_length=4)
    parse_query('a~="abcd"', limits=limits)
    with pytest.raises(QueryTooComplex) as caught:
        parse_query('a~="abcde"', limits=limits)
    assert caught.value.limit == "max_pattern_length"


def test_default_limits_accept_realistic_queries() -> None:
    query = ";".join(f'(a{i}>{i}|b{i}=="x")' for i in range(30))
    assert len(list(parse_query(query).terms)) == 30  # type: ignore[union-attr]


# -- the AST refuses malformed trees --------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: AttrPath(()),
        lambda: AttrPath(("1a",)),
        lambda: AttrPath(("a", "observedAt", "b")),
        lambda: AttrPath(("a", "observedAt"), ("x",)),
        lambda: AttrPath(("a",), ("*", "x")),
        lambda: AttrPath(("a",), ("x y",)),
        lambda: Literal(Kind.NUMBER, True),
        lambda: Literal(Kind.NUMBER, float("nan")),
        lambda: Literal(Kind.DATE, "2018-13-01"),
        lambda: Literal(Kind.URI, "not a uri"),
        lambda: Range(num(1), text("x")),
        lambda: Range(Literal(Kind.BOOLEAN, True), Literal(Kind.BOOLEAN, False)),
        lambda: ValueList((num(1),)),
        lambda: Comparison(path("a"), Op.GT, Literal(Kind.BOOLEAN, True)),
        lambda: Comparison(path("a"), Op.MATCH, text("x")),
        lambda: Comparison(path("a"), Op.EQ, Pattern("x")),
        lambda: And((Exists(path("a")),)),
    ],
)
def test_ast_validation(build: object) -> None:
    with pytest.raises(ValueError):
        build()  # type: ignore[operator]
