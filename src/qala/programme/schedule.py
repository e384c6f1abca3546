"""Scheduled verification: every programme's deliverables evaluated against the live hub every
``QALA_PROGRAMME_VERIFY_INTERVAL`` seconds, each evaluation kept (the history).

The first run comes one interval after the server starts (a freshly seeded demo keeps its own
evaluations until then). A failed run is logged and retried at the next interval.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from qala.hub import Hub
from qala.programme.hub_inputs import HubInputs
from qala.programme.repository import Repository, Tables
from qala.programme.service import programme_ids, verify

log = logging.getLogger("qala.programme")


async def verify_all(
    tables: Tables, hub: Hub, contexts: object, *, max_terms: int = 64, at: datetime | None = None
) -> int:
    """Evaluate every deliverable of every programme now; how many evaluations were kept."""
    repo = Repository(tables)
    inputs = await HubInputs.open(hub, contexts, max_terms=max_terms)
    moment = at or datetime.now(UTC)
    done = 0
    for programme in await programme_ids(repo):
        done += len(await verify(repo, inputs, programme, moment))
    return done


async def verification_loop(
    tables: Tables, hub: Hub, contexts: object, interval: float, *, max_terms: int = 64
) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            done = await verify_all(tables, hub, contexts, max_terms=max_terms)
            log.info("programme verification: %d deliverables evaluated", done)
        except Exception:
            log.exception("programme verification failed; retrying at the next interval")
