"""What the dashboard's sections may show to one caller on this server.

The overview and the city page have sections fed by other capabilities' APIs (the programme
monitor, Open311, the indicators). The server knows which capabilities run
(``svc.capabilities``) and what the caller's role may read, so it says so itself — in the
page's configuration for the caller without credentials, and at ``GET
/api/v1/dashboard/sections`` for a signed-in caller — and the page never asks an API that
would refuse it. Each section is in one of three states:

* ``absent``: the capability does not run on this server;
* ``refused``: it runs, but the caller's role reads none of it (the page says so without a
  failing request);
* ``open``: the page reads it; ``view`` says which of the capability's APIs (``figures``:
  the Open311 back office; ``public``: the public GeoReport API) and ``tenants`` the cities
  it may read (``null``: every city it finds); the indicators' sections say too whether the
  caller may ``compute`` the indicators of those cities.

The rules are the capabilities' own (docs/programme.md, docs/open311.md, docs/indicators.md);
the capabilities still decide every request.
"""

from __future__ import annotations

from typing import Any

from qala.hub import Actor, access
from qala.services import Services

#: The capability behind each section.
CAPABILITY = {
    "assessment": "indicators",
    "indicators": "indicators",
    "programme": "programme",
    "requests": "open311",
}
#: Roles that read the programme monitor (a partner: the projects it holds a contract in).
PROGRAMME_READERS = (access.ADMIN, access.AUDITOR, access.OPERATOR, access.PARTNER)
#: Roles that read the Open311 back office, its figures included.
OFFICE_READERS = (access.ADMIN, access.OPERATOR, access.AUDITOR)
#: Roles that compute a city's indicators (the city's operators; admins): docs/indicators.md.
INDICATOR_COMPUTERS = (access.ADMIN, access.OPERATOR)


def running(svc: Services) -> set[str]:
    return {cap.name for cap in svc.capabilities}


def _bound(actor: Actor) -> list[str] | None:
    return None if actor.tenant is None else [actor.tenant]


def _open311_cities(svc: Services, actor: Actor) -> list[str]:
    """The cities with an Open311 service (its catalogue), those of ``actor``'s city when it
    is bound to one."""
    from qala.open311.office import Office

    office = svc.state.find(Office)
    cities = [c.tenant for c in office.catalogue.cities] if office is not None else []
    return [c for c in cities if actor.tenant in (None, c)]


def section_states(svc: Services, actor: Actor) -> dict[str, dict[str, Any]]:
    """Each section's state for ``actor`` (see the module's description). ``hub`` is the city
    map's: the hub itself always runs, and an actor bound to a city reads that city only (the
    others' APIs refuse it), so the page of another city draws no layer."""
    names = running(svc)
    out: dict[str, dict[str, Any]] = {"hub": {"state": "open", "view": "ngsi-ld",
                                              "tenants": _bound(actor)}}  # fmt: skip
    for key, capability in CAPABILITY.items():
        if capability not in names:
            out[key] = {"state": "absent"}
        elif key == "programme":
            out[key] = (
                {"state": "open", "view": "programme", "tenants": _bound(actor)}
                if actor.role in PROGRAMME_READERS
                else {"state": "refused"}
            )
        elif key == "requests":
            # the public GeoReport API lists every city's requests to anyone; staff read the
            # back office's figures (% within SLA, backlog) of their cities
            staff = actor.role in OFFICE_READERS
            out[key] = {
                "state": "open",
                "view": "figures" if staff else "public",
                "tenants": _open311_cities(svc, actor if staff else Actor(role=access.PUBLIC)),
            }
        else:
            out[key] = _indicators(svc, actor)
    return out


def _indicators(svc: Services, actor: Actor) -> dict[str, Any]:
    """The indicators API reads a city to every role that may act in it (an actor bound to a
    city reads that city only) — but only with credentials, unless the server gives requests
    without them a role (``QALA_ANONYMOUS_ROLE``): the dashboard's pages are open to everyone,
    the API is not. Computing: the city's operators and admins."""
    if actor.via == "anonymous" and not svc.settings.anonymous_role:
        return {"state": "refused"}
    return {
        "state": "open",
        "view": "indicators",
        "tenants": _bound(actor),
        "compute": actor.role in INDICATOR_COMPUTERS,
    }


def actor_summary(actor: Actor) -> dict[str, Any]:
    return {"role": actor.role, "tenant": actor.tenant}
