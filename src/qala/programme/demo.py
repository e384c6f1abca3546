"""The demo programme: Kazakhstan's Smart City programme 2019–2021 in the five cities.

The programme's total is public: 29.89 bn KZT of regional spending in 2019–2021 (Accounts
Committee audit); its goal was missed, the work was not finished and full implementation moved
to 2023. **No official split by city or project is published: the split, the projects, the
contractors and every amount below them are illustrative.** They are chosen so that the audit
shows every kind of flag with its evidence: some projects delivered, some paid but silent, one
overdue whose deadline moved to 2023.

Deliverables are stated on what ``qala demo`` seeds (``qala.demo.generate``, seed 2026), so
verification against the live demo hub finds the same as against :func:`hub`, its in-memory
picture. Every seeded entity last reported at the demo's data moment (2026-01-15 09:00 UTC);
the demo verifies half an hour and six hours after it. Deliverables whose contract asks for
daily reporting (``PT24H``) are delivered at both; Aktobe's chargers must report hourly
(``PT1H``): delivered at the first check, silent at the second (*regressed*); Almaty's
air-quality stations must report every 15 minutes and are silent at both — paid, claimed
met, never shown by the data. :func:`build` is pure: the same call gives the same revisions
and the same in-memory hub picture; :mod:`qala.programme.seed` loads it into a store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from qala.demo.generate import DEFAULT_OBSERVED_AT, demo_plan, generate_entities
from qala.programme.inputs import MemoryEntity, MemoryInputs, Reading
from qala.programme.revisions import Revision

PROGRAMME_ID = "kz-smart-city-2019-2021"
TOTAL = Decimal("29890000000.00")
#: the random seed of the demo hub's data (``qala demo``'s default)
SEED = 2026
#: the moment the demo hub's values describe: every seeded entity last reported then
DATA_MOMENT = DEFAULT_OBSERVED_AT
#: the demo's two verifications: half an hour after the data moment, and six hours after it,
#: when devices that must report every hour have been silent for five hours
EVALUATION_TIMES = (DATA_MOMENT + timedelta(minutes=30), DATA_MOMENT + timedelta(hours=6))


def evaluation_times(moment: datetime = DATA_MOMENT) -> tuple[datetime, datetime]:
    """When the demo verifies its deliverables: 30 minutes and 6 hours after the moment the
    demo hub's devices last reported (the seeding anchor)."""
    return (moment + timedelta(minutes=30), moment + timedelta(hours=6))

#: the moment the demo's audit is made (the last verification)
NOW = EVALUATION_TIMES[-1]

#: Illustrative split of the 29.89 bn KZT (no official split is published).
CITY_SPLIT: dict[str, Decimal] = {
    "astana": Decimal("8500000000.00"),
    "almaty": Decimal("9200000000.00"),
    "shymkent": Decimal("5100000000.00"),
    "aktobe": Decimal("3400000000.00"),
    "karaganda": Decimal("3690000000.00"),
}
NOTE = (
    "Illustrative: the programme total (29.89 bn KZT, 2019–2021) is public; no official split "
    "by city or project is published, so the split, projects, contractors and amounts are "
    "invented for the demonstration."
)
ACTOR = "demo"
PAYER = {"name": "Akimat (city administration)"}


@dataclass(frozen=True, slots=True)
class Demo:
    programme: str
    revisions: list[Revision]
    inputs: MemoryInputs
    #: when to evaluate the deliverables, in order (the audit reads the last)
    evaluation_times: tuple[datetime, ...]
    now: datetime


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T12:00:00+05:00").astimezone(UTC)


class _Revs:
    def __init__(self) -> None:
        self.items: list[Revision] = []

    def add(
        self,
        op: str,
        kind: str,
        target: str,
        data: dict[str, Any],
        day: str,
        reason: str,
        document: str | None = None,
    ) -> None:
        self.items.append(Revision(op, kind, target, data, ACTOR, reason, _at(day), document))


def _breakdown(budget: Decimal) -> list[dict[str, Any]]:
    first = (budget * Decimal("0.3")).quantize(Decimal("0.01"))
    second = (budget * Decimal("0.4")).quantize(Decimal("0.01"))
    return [
        {"id": "2019", "year": 2019, "source": "republican budget", "amount": str(first)},
        {"id": "2020", "year": 2020, "source": "republican budget", "amount": str(second)},
        {
            "id": "2021",
            "year": 2021,
            "source": "local budget",
            "amount": str(budget - first - second),
        },
    ]


@dataclass(frozen=True, slots=True)
class _Spec:
    id: str
    tenant: str
    title: str
    sector: tuple[str, ...]
    budget: str
    contractor: str
    contract_value: str
    entity_type: str
    count: int
    q: str | None = None
    #: how recently each device must have reported (the contract's reporting requirement)
    fresh: str = "PT24H"


_SPECS = (
    _Spec(
        "AST-LIGHT",
        "astana",
        "Smart street lighting",
        ("energy",),
        "5000000000",
        "Nur Jaryq LLP",
        "4600000000",
        "Streetlight",
        1800,
    ),
    _Spec(
        "AST-AIR",
        "astana",
        "Air-quality monitoring network",
        ("economy",),
        "3500000000",
        "EcoSense Kazakhstan LLP",
        "3200000000",
        "AirQualityObserved",
        35,
    ),
    _Spec(
        "ALM-AIR",
        "almaty",
        "Air-quality monitoring network",
        ("economy",),
        "4000000000",
        "Taza Aua LLP",
        "3800000000",
        "AirQualityObserved",
        50,
        fresh="PT15M",
    ),
    _Spec(
        "ALM-TRAFFIC",
        "almaty",
        "Adaptive traffic management",
        ("transport", "transport.road"),
        "5200000000",
        "Smart Road Systems JSC",
        "4500000000",
        "TrafficFlowObserved",
        80,
    ),
    _Spec(
        "SHY-LIGHT",
        "shymkent",
        "Individually controlled street lighting",
        ("energy",),
        "3600000000",
        "Ontustik Energo Service LLP",
        "3300000000",
        "Streetlight",
        1200,
        q='controllingMethod=="individual"',
    ),
    _Spec(
        "SHY-WASTE",
        "shymkent",
        "Waste container fill sensors",
        ("waterAndWaste",),
        "1500000000",
        "CleanCity Shymkent LLP",
        "1200000000",
        "WasteContainer",
        900,
    ),
    _Spec(
        "AKT-PARK",
        "aktobe",
        "Parking guidance",
        ("transport", "transport.urban"),
        "2000000000",
        "Aktobe Parking LLP",
        "1500000000",
        "OffStreetParking",
        10,
    ),
    _Spec(
        "AKT-EV",
        "aktobe",
        "Public EV charging",
        ("energy",),
        "1400000000",
        "Volt Aktobe LLP",
        "1300000000",
        "EVChargingStation",
        8,
        fresh="PT1H",
    ),
    _Spec(
        "KAR-STOPS",
        "karaganda",
        "Connected public-transport stops",
        ("transport", "transport.urban"),
        "2200000000",
        "Qaragandy Transit LLP",
        "2000000000",
        "PublicTransportStop",
        150,
    ),
    _Spec(
        "KAR-LIGHT",
        "karaganda",
        "Smart street lighting",
        ("energy",),
        "1490000000",
        "Saryarka Light LLP",
        "1400000000",
        "Streetlight",
        600,
        q='status=="ok"',
    ),
)


def _project(r: _Revs, s: _Spec) -> None:
    r.add(
        "create",
        "project",
        s.id,
        {
            "tenant": s.tenant,
            "title": s.title,
            "sector": list(s.sector),
            "status": "preparation",
            "period": {"startDate": "2019-01-01", "endDate": "2021-12-31"},
            "budget": s.budget,
            "budgetBreakdown": _breakdown(Decimal(s.budget)),
            "description": f"{s.title} in {s.tenant.capitalize()} under the Smart City programme "
            "(illustrative).",
        },
        "2019-01-15",
        "programme approved",
        "programme passport 2019-01",
    )
    r.add(
        "create",
        "contract",
        f"{s.id}-C1",
        {
            "project": s.id,
            "title": f"{s.title}: supply, installation and connection",
            "contractor": {"name": s.contractor},
            "value": s.contract_value,
            "period": {"startDate": "2019-04-01", "endDate": "2021-12-31"},
            "status": "active",
        },
        "2019-04-01",
        "contract signed",
        f"contract {s.id}-C1",
    )
    deliverable: dict[str, Any] = {
        "project": s.id,
        "title": f"{s.entity_type} entities reporting to the hub",
        "type": s.entity_type,
        "count": s.count,
        "freshWithin": s.fresh,
    }
    if s.q:
        deliverable["q"] = s.q
    r.add(
        "create",
        "deliverable",
        f"{s.id}-D1",
        deliverable,
        "2019-04-01",
        "deliverable stated in the technical specification",
        f"contract {s.id}-C1, annex 1",
    )
    r.add(
        "create",
        "milestone",
        f"{s.id}-M1",
        {
            "contract": f"{s.id}-C1",
            "title": "Devices installed and reporting to the hub",
            "dueDate": "2021-10-01",
            "deliverables": [f"{s.id}-D1"],
        },
        "2019-04-01",
        "schedule of the contract",
        f"contract {s.id}-C1, annex 2",
    )
    r.add("update", "project", s.id, {"status": "implementation"}, "2019-04-02", "works started")


def _pay(
    r: _Revs,
    pid: str,
    n: int,
    day: str,
    amount: str,
    *,
    milestone: bool = False,
    contract: bool = True,
) -> None:
    data: dict[str, Any] = {
        "date": day,
        "amount": amount,
        "payer": PAYER,
        "document": f"payment order {pid}-{n}",
    }
    if contract:
        data["contract"] = f"{pid}-C1"
        if milestone:
            data["milestone"] = f"{pid}-M1"
    else:
        data["project"] = pid
    r.add(
        "create",
        "payment",
        f"{pid}-T{n}",
        data,
        day,
        "payment recorded by the treasury",
        f"payment order {pid}-{n}",
    )


def _met(r: _Revs, pid: str, day: str) -> None:
    r.add(
        "update",
        "milestone",
        f"{pid}-M1",
        {"status": "met", "dateMet": day},
        day,
        "acceptance certificate signed",
        f"acceptance certificate {pid}-M1",
    )


def revisions() -> list[Revision]:
    r = _Revs()
    r.add(
        "update",
        "programme",
        PROGRAMME_ID,
        {
            "title": "Smart City (Digital Kazakhstan), 2019–2021",
            "description": "Regional spending on the Smart City programme in Astana, Almaty, "
            "Shymkent, Aktobe and Karaganda.",
            "period": {"startDate": "2019-01-01", "endDate": "2021-12-31"},
            "budget": str(TOTAL),
            "note": NOTE,
        },
        "2019-01-15",
        "programme approved",
        "state programme Digital Kazakhstan",
    )
    for spec in _SPECS:
        _project(r, spec)
    # Astana lighting: delivered, paid after acceptance, completed; energy use fell.
    _pay(r, "AST-LIGHT", 1, "2020-03-01", "2300000000")
    _met(r, "AST-LIGHT", "2021-09-20")
    _pay(r, "AST-LIGHT", 2, "2021-10-15", "2300000000", milestone=True)
    r.add(
        "update",
        "project",
        "AST-LIGHT",
        {
            "status": "completion",
            "completion": {"endDate": "2021-11-30", "finalValue": "4600000000"},
            "indicators": [
                {
                    "id": "iso37122:7.6",
                    "name": "Street lighting managed by a light performance management system",
                    "unit": "%",
                    "baseline": "0",
                    "target": "80",
                }
            ],
        },
        "2021-11-30",
        "works accepted",
        "completion act AST-LIGHT",
    )
    # Astana air quality: delivered.
    _pay(r, "AST-AIR", 1, "2020-06-01", "1000000000")
    _met(r, "AST-AIR", "2021-08-01")
    _pay(r, "AST-AIR", 2, "2021-09-01", "2000000000", milestone=True)
    # Almaty air quality: paid, claimed met, silent on the hub.
    _pay(r, "ALM-AIR", 1, "2020-05-01", "1500000000")
    _met(r, "ALM-AIR", "2021-09-30")
    _pay(r, "ALM-AIR", 2, "2021-10-20", "1900000000", milestone=True)
    # Almaty traffic: the contract grew above the budget by modification.
    r.add(
        "modify",
        "contract",
        "ALM-TRAFFIC-C1",
        {
            "id": "ALM-TRAFFIC-C1-mod-1",
            "type": "value",
            "newValue": "5600000000",
            "rationale": "additional intersections added to the scope",
            "date": "2020-09-15",
        },
        "2020-09-15",
        "additional intersections added to the scope",
        "supplementary agreement 1",
    )
    _pay(r, "ALM-TRAFFIC", 1, "2020-04-01", "2000000000")
    _met(r, "ALM-TRAFFIC", "2021-09-01")
    _pay(r, "ALM-TRAFFIC", 2, "2021-10-01", "2000000000", milestone=True)
    # Shymkent lighting: overdue, its deadline moved twice, to 2023.
    _pay(r, "SHY-LIGHT", 1, "2020-02-01", "1200000000")
    r.add(
        "modify",
        "contract",
        "SHY-LIGHT-C1",
        {
            "id": "SHY-LIGHT-C1-mod-1",
            "type": "duration",
            "newPeriod": {"startDate": "2019-04-01", "endDate": "2023-12-31"},
            "rationale": "supply of controllers delayed",
            "date": "2021-11-20",
        },
        "2021-11-20",
        "supply of controllers delayed",
        "supplementary agreement 1",
    )
    r.add(
        "update",
        "milestone",
        "SHY-LIGHT-M1",
        {"dueDate": "2022-12-31"},
        "2021-11-20",
        "supply of controllers delayed",
        "supplementary agreement 1",
    )
    r.add(
        "update",
        "milestone",
        "SHY-LIGHT-M1",
        {"dueDate": "2023-12-31", "status": "notMet"},
        "2022-12-20",
        "full implementation moved to 2023",
        "supplementary agreement 2",
    )
    # Shymkent waste: paid for the milestone before it was met, and paid more than contracted.
    _pay(r, "SHY-WASTE", 1, "2020-06-01", "800000000", milestone=True)
    _met(r, "SHY-WASTE", "2020-09-01")
    _pay(r, "SHY-WASTE", 2, "2020-10-01", "500000000")
    # Aktobe parking: a design study paid with no contract.
    _pay(r, "AKT-PARK", 1, "2019-03-15", "300000000", contract=False)
    _met(r, "AKT-PARK", "2021-07-01")
    _pay(r, "AKT-PARK", 2, "2021-07-15", "1200000000", milestone=True)
    # Aktobe EV charging: delivered (hourly reports at the first check), silent at the second.
    _met(r, "AKT-EV", "2021-05-20")
    _pay(r, "AKT-EV", 1, "2021-05-25", "1300000000", milestone=True)
    # Karaganda stops: completed; punctuality did not move.
    _met(r, "KAR-STOPS", "2021-10-15")
    _pay(r, "KAR-STOPS", 1, "2021-10-25", "2000000000", milestone=True)
    r.add(
        "update",
        "project",
        "KAR-STOPS",
        {
            "status": "completion",
            "completion": {"endDate": "2021-12-15", "finalValue": "2000000000"},
            "indicators": [
                {
                    "id": "u4ssc:economy/dynamic-public-transport-information",
                    "name": "Stops with real-time arrival information",
                    "unit": "%",
                    "baseline": "10",
                    "target": "60",
                }
            ],
        },
        "2021-12-15",
        "works accepted",
        "completion act KAR-STOPS",
    )
    # Karaganda lighting: on its way (working lamps short of the 600 contracted).
    _pay(r, "KAR-LIGHT", 1, "2020-05-01", "600000000")
    return r.items


def _reported(entity: dict[str, Any]) -> datetime | None:
    times = [
        datetime.fromisoformat(attr["observedAt"].replace("Z", "+00:00"))
        for attr in entity.values()
        if isinstance(attr, dict) and isinstance(attr.get("observedAt"), str)
    ]
    return max(times) if times else None


def hub() -> MemoryInputs:
    """The demo hub as verification sees it: the entities ``qala demo`` seeds for the
    deliverables' types (``qala.demo.generate``, seed :data:`SEED`), each last reporting at
    its newest ``observedAt`` (the demo's data moment, :data:`DATA_MOMENT`), and the target
    indicators' values after completion (on the live hub, the indicators capability's KPI
    entities)."""
    inputs = MemoryInputs()
    wanted = {(s.tenant, s.entity_type) for s in _SPECS}
    for tenant, entity_type in sorted(wanted):
        count = demo_plan(tenant)[entity_type]
        for entity in generate_entities(tenant, entity_type, count, SEED):
            attrs = {
                name: attr["value"]
                for name, attr in entity.items()
                if isinstance(attr, dict) and attr.get("type") == "Property"
            }
            inputs.add(
                [MemoryEntity(entity["id"], entity_type, tenant, _reported(entity), attrs)]
            )
    month = timedelta(days=30)
    inputs.add_readings(
        "astana",
        "iso37122:7.6",
        [
            Reading(datetime(2022, 1, 1, tzinfo=UTC) + k * month, Decimal(v))
            for k, v in enumerate(("21", "38", "52", "61"))
        ],
    )
    inputs.add_readings(
        "karaganda",
        "u4ssc:economy/dynamic-public-transport-information",
        [
            Reading(datetime(2022, 1, 1, tzinfo=UTC) + k * month, Decimal(v))
            for k, v in enumerate(("10.0", "10.5", "11.2", "11.4"))
        ],
    )
    return inputs


def build() -> Demo:
    """The demo programme's revisions and hub picture."""
    return Demo(PROGRAMME_ID, revisions(), hub(), EVALUATION_TIMES, NOW)
