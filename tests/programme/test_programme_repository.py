"""The repository on a real store (SQLite and PostgreSQL): append-only, compiled state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from programme_support import PROGRAMME, lights, memory, project_revisions, rev

from qala.config import Settings
from qala.programme.repository import Repository
from qala.programme.revisions import BaselineFrozen
from qala.programme.verify import evaluate
from qala.store import open_store

NOW = datetime(2024, 3, 1, tzinfo=UTC)


def test_revisions_evaluations_and_explanations_round_trip_and_are_append_only(
    settings: Settings,
) -> None:
    async def scenario() -> None:
        store = open_store(settings)
        await store.open()
        try:
            repo = Repository(store)
            stored = await repo.append(PROGRAMME, project_revisions())
            assert [r.seq for r in stored] == list(range(1, 6))
            await repo.append(
                PROGRAMME,
                [rev("update", "milestone", "M1", {"dueDate": "2023-12-31"}, document="SA-2")],
            )
            with pytest.raises(BaselineFrozen):
                await repo.append(
                    PROGRAMME,
                    [
                        rev(
                            "create",
                            "payment",
                            "T1",
                            {"contract": "C1", "date": "2020-01-01", "amount": "1"},
                        ),
                        rev("update", "project", "P1", {"budget": "1"}),
                    ],
                )
            state = await repo.state(PROGRAMME)
            assert state.payments == {}  # all or nothing
            assert state.milestones["M1"].due_date.isoformat() == "2023-12-31"
            moves = await repo.history(PROGRAMME, kind="milestone", field_name="dueDate")
            assert [(c.old, c.new, c.document) for c in moves][-1] == (
                "2020-12-31",
                "2023-12-31",
                "SA-2",
            )
            evs = await evaluate(state, memory(lights(100, reporting=40, at=NOW)), NOW)
            await repo.record_evaluations(PROGRAMME, evs)
            assert await repo.evaluations(PROGRAMME) == evs
            await repo.explain(
                PROGRAMME,
                "milestone-overdue:milestone:M1",
                actor="auditor",
                reason="force majeure",
                at=NOW,
            )
            (note,) = await repo.explanations(PROGRAMME)
            assert note.reason == "force majeure" and note.version == 1
            for table in ("programme_revisions", "programme_evaluations", "programme_explanations"):
                with pytest.raises(Exception, match="append-only"):
                    await store.execute([(f"DELETE FROM {table}", [])])
                with pytest.raises(Exception, match="append-only"):
                    await store.execute([(f"UPDATE {table} SET programme = 'x'", [])])
            assert len(await repo.revisions(PROGRAMME)) == 6
        finally:
            await store.close()

    asyncio.run(scenario())
