"""The indicator catalogue: ISO 37120, ISO 37122, U4SSC (and Qala's own measures) as data.

``catalogue.yaml`` in this package is loaded and validated with pydantic. A bad file raises
:class:`CatalogueError` naming the entry (its id, or its position) and the field. The file's
header says how identifiers are formed; docs/indicators.md describes every field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

NOT_PUBLISHED = "not published"

_CYRILLIC = re.compile(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]")
_LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class CatalogueError(ValueError):
    """The catalogue file is not valid; the message names the entry and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Title(_Strict):
    en: str = Field(min_length=1)
    ru: str = Field(min_length=1)
    kk: str = Field(min_length=1)

    @field_validator("ru", "kk")
    @classmethod
    def _cyrillic(cls, value: str) -> str:
        if not _CYRILLIC.search(value):
            raise ValueError("must be written in Cyrillic")
        # chemical formulas and acronyms (PM2.5, NO₂, WHO) may be Latin; words may not
        words = [w for w in _LATIN_WORD.findall(value) if not w.isupper()]
        if words:
            raise ValueError(f"has untranslated Latin words: {', '.join(words)}")
        return value

    def get(self, language: str) -> str:
        return {"en": self.en, "ru": self.ru, "kk": self.kk}.get(language, self.en)


class Definition(_Strict):
    numerator: str = Field(min_length=1)
    denominator: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    multiplier: float = Field(gt=0)
    note: str = ""
    source: Literal["reference", "qala"] = "reference"


class HubData(_Strict):
    type: str = Field(pattern=r"^[A-Z][A-Za-z0-9_]*$")
    attrs: tuple[str, ...] = ()


class Crosswalk(_Strict):
    id: str
    relation: Literal["same", "related"]
    note: str = ""


class Theme(_Strict):
    number: int | None = None
    en: str
    ru: str
    kk: str

    def get(self, language: str) -> str:
        return {"en": self.en, "ru": self.ru, "kk": self.kk}.get(language, self.en)


class Framework(_Strict):
    title: str


class Indicator(_Strict):
    id: str
    framework: str
    clause: str | None = None
    section: int | None = None
    theme: str
    u4ssc_dimension: Literal["economy", "environment", "society-and-culture"] | None = None
    level: Literal["core", "supporting", "profile"] | None = None
    title: Title
    better: Literal["lower", "higher"]
    definition: Definition | Literal["not published"]
    calculator: str | None = None
    reported_only: str | None = None
    hub_data: tuple[HubData, ...] = ()
    crosswalk: tuple[Crosswalk, ...] = ()

    @property
    def published(self) -> bool:
        return isinstance(self.definition, Definition)

    @property
    def unit(self) -> str:
        return self.definition.unit if isinstance(self.definition, Definition) else ""

    @property
    def number(self) -> str:
        """What the ISO 37120 reporting layout calls the indicator's number."""
        if self.clause:
            return self.clause
        if self.section is not None:
            return f"{self.section}.–"
        return self.id


class Catalogue(_Strict):
    version: int
    frameworks: dict[str, Framework]
    themes: dict[str, Theme]
    indicators: tuple[Indicator, ...]

    def __iter__(self) -> Iterator[Indicator]:  # type: ignore[override]
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)

    def get(self, indicator_id: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(f"no indicator {indicator_id!r} in the catalogue")

    def __contains__(self, indicator_id: object) -> bool:
        return any(i.id == indicator_id for i in self.indicators)

    def by_calculator(self, name: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.calculator == name)

    def calculators(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.calculator for i in self.indicators if i.calculator))


def _where(entry: Any, position: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        return f"indicator {entry['id']!r} (entry {position})"
    return f"indicator entry {position}"


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and "[" in p)]
    # pydantic names union branches (Definition / literal); keep the user's field names
    parts = [p for p in parts if p not in {"Definition", "literal['not published']"}]
    return ".".join(parts) or "(entry)"


def _first_error(error: ValidationError) -> tuple[str, str]:
    details = error.errors()
    # for a union the most specific message is the one from the model branch
    detail = next((d for d in details if "Definition" in d["loc"]), details[0])
    return _field_path(tuple(detail["loc"])), detail["msg"]


def parse_catalogue(data: Any, source: str = "catalogue") -> Catalogue:
    """Validate loaded YAML/JSON data; raise :class:`CatalogueError` on the first problem."""
    if not isinstance(data, dict):
        raise CatalogueError(f"{source}: the document must be a mapping")
    entries = data.get("indicators")
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{source}: field 'indicators' must be a non-empty list")
    indicators: list[Indicator] = []
    for position, entry in enumerate(entries, start=1):
        try:
            indicators.append(Indicator.model_validate(entry))
        except ValidationError as exc:
            field, message = _first_error(exc)
            raise CatalogueError(
                f"{source}: {_where(entry, position)}, field {field!r}: {message}"
            ) from None
    try:
        catalogue = Catalogue.model_validate({**data, "indicators": ()})
    except ValidationError as exc:
        field, message = _first_error(exc)
        raise CatalogueError(f"{source}: field {field!r}: {message}") from None
    catalogue = catalogue.model_copy(update={"indicators": tuple(indicators)})
    _check_consistency(catalogue, source)
    return catalogue


def _fail(source: str, indicator: Indicator, field: str, message: str) -> CatalogueError:
    return CatalogueError(f"{source}: indicator {indicator.id!r}, field {field!r}: {message}")


def _check_consistency(catalogue: Catalogue, source: str) -> None:
    seen: set[str] = set()
    ids = {i.id for i in catalogue.indicators}
    for ind in catalogue.indicators:
        if ind.id in seen:
            raise _fail(source, ind, "id", "appears more than once")
        seen.add(ind.id)
        if ind.framework not in catalogue.frameworks:
            raise _fail(source, ind, "framework", f"unknown framework {ind.framework!r}")
        prefix, _, rest = ind.id.partition(":")
        if prefix != ind.framework or not rest:
            raise _fail(source, ind, "id", f"must start with '{ind.framework}:'")
        theme = catalogue.themes.get(ind.theme)
        if theme is None:
            raise _fail(source, ind, "theme", f"unknown theme {ind.theme!r}")
        _check_id_form(source, ind, rest, theme)
        if ind.calculator and not ind.published:
            raise _fail(
                source,
                ind,
                "calculator",
                "an indicator whose definition is not published cannot have a calculator",
            )
        if ind.calculator and ind.reported_only:
            raise _fail(source, ind, "reported_only", "an indicator with a calculator is measured")
        if ind.framework == "qala" and not (
            isinstance(ind.definition, Definition) and ind.definition.source == "qala"
        ):
            raise _fail(source, ind, "definition.source", "Qala's measures say source: qala")
        if (
            ind.framework != "qala"
            and isinstance(ind.definition, Definition)
            and ind.definition.source == "qala"
        ):
            raise _fail(
                source, ind, "definition.source", "only Qala's own measures have source: qala"
            )
        for link in ind.crosswalk:
            if link.id not in ids:
                raise _fail(source, ind, "crosswalk", f"unknown indicator {link.id!r}")
            if link.id == ind.id:
                raise _fail(source, ind, "crosswalk", "an indicator cannot cross-walk to itself")
            other = catalogue.get(link.id)
            shared = ind.calculator is not None and ind.calculator == other.calculator
            if link.relation == "same" and not shared:
                raise _fail(
                    source,
                    ind,
                    "crosswalk",
                    f"'same' quantity as {link.id!r} needs one calculator for both",
                )
    # one calculator, several ids: each pair must be declared the same quantity
    for name in catalogue.calculators():
        sharing = catalogue.by_calculator(name)
        for ind in sharing:
            declared = {c.id for c in ind.crosswalk if c.relation == "same"}
            missing = [o.id for o in sharing if o.id != ind.id and o.id not in declared]
            if missing:
                raise _fail(
                    source,
                    ind,
                    "calculator",
                    f"calculator {name!r} is shared with {', '.join(missing)} "
                    "without a crosswalk of relation 'same'",
                )


def _check_id_form(source: str, ind: Indicator, rest: str, theme: Theme) -> None:
    if ind.clause is not None:
        if rest != ind.clause:
            raise _fail(source, ind, "id", f"must be '{ind.framework}:{ind.clause}'")
        if ind.section is not None:
            raise _fail(source, ind, "section", "give either clause or section, not both")
        section = ind.clause.split(".")[0]
        numbered = ind.framework.startswith("iso") and theme.number is not None
        if numbered and section != str(theme.number):
            raise _fail(
                source, ind, "clause", f"clause {ind.clause} is not in theme {ind.theme!r}"
            )
        return
    if ind.framework.startswith("iso"):
        if ind.section is None:
            raise _fail(source, ind, "section", "needed when the clause is not published")
        if theme.number is not None and ind.section != theme.number:
            raise _fail(source, ind, "section", f"theme {ind.theme!r} is section {theme.number}")
        head, _, slug = rest.partition("/")
        if head != str(ind.section) or not _SLUG.match(slug):
            raise _fail(source, ind, "id", f"must be '{ind.framework}:{ind.section}/<slug>'")
        return
    head, _, slug = rest.partition("/")
    if not head or not _SLUG.match(slug or ""):
        raise _fail(source, ind, "id", f"must be '{ind.framework}:<area>/<slug>'")
    if ind.framework == "u4ssc":
        if ind.u4ssc_dimension is None:
            raise _fail(source, ind, "u4ssc_dimension", "needed for a U4SSC KPI")
        if not ind.u4ssc_dimension.startswith(head):
            raise _fail(source, ind, "id", f"must start with the dimension ({ind.u4ssc_dimension})")


def load_catalogue_file(path: str | Path) -> Catalogue:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_text(text, str(path.name))


def parse_text(text: str, source: str = "catalogue") -> Catalogue:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from None
    return parse_catalogue(data, source)


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue shipped in the package."""
    text = resources.files("qala.indicators").joinpath("catalogue.yaml").read_text("utf-8")
    return parse_text(text, "catalogue.yaml")
