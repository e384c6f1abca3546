"""``qala demo``'s programme step: the demo programme loaded through the programme's own
repository, then verified against the live demo hub at the demo's two moments.

Idempotent: a programme already stored is left as it is, and an evaluation moment already
recorded is not recorded twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from qala.programme import demo
from qala.programme.hub_inputs import HubInputs
from qala.programme.repository import Repository
from qala.programme.service import programme_ids, run_audit, verify


async def seed_demo_programme(
    svc: Any, console: Any = None, *, anchor: datetime | None = None
) -> dict[str, int]:
    """Load and verify the demo programme in ``svc`` (the running services); counts.

    ``anchor``: the moment the demo hub's devices last reported (``qala demo``'s anchor); the
    programme is verified 30 minutes and 6 hours after it."""
    times = demo.evaluation_times(anchor) if anchor is not None else demo.EVALUATION_TIMES
    repo = Repository(svc.store)
    added = 0
    if demo.PROGRAMME_ID not in await programme_ids(repo):
        added = len(await repo.append(demo.PROGRAMME_ID, demo.revisions()))
    inputs = await HubInputs.of(svc)
    done = {ev.at for ev in await repo.evaluations(demo.PROGRAMME_ID)}
    evaluated = 0
    for moment in times:
        if moment not in done:
            evaluated += len(await verify(repo, inputs, demo.PROGRAMME_ID, moment))
    report = await run_audit(repo, inputs, demo.PROGRAMME_ID, times[-1])
    if console is not None:
        console.print(
            f"programme {demo.PROGRAMME_ID}: {added} revisions, {evaluated} evaluations against "
            f"the hub, {len(report.flags)} flags of {len({f.rule for f in report.flags})} kinds "
            "(qala audit)"
        )
    return {"revisions": added, "evaluations": evaluated, "flags": len(report.flags)}
