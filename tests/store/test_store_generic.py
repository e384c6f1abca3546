"""The store's generic access for capabilities: $n placeholders on both backends."""

from __future__ import annotations

import asyncio

from qala.config import Settings
from qala.hub import RowBatch
from qala.store import open_store


def test_fetch_execute_and_insert_rows_speak_the_same_sql_on_both_backends(
    settings: Settings,
) -> None:
    async def scenario() -> list[tuple]:
        store = open_store(settings)
        await store.open()
        try:
            await store.insert_rows(
                [
                    RowBatch(
                        "tenants",
                        ("name", "created_at", "settings"),
                        [("alpha", 1, "{}"), ("beta", 2, "{}")],
                    )
                ]
            )
            counts = await store.execute(
                [
                    ("UPDATE tenants SET settings = $1 WHERE name = $2", ['{"x": 1}', "beta"]),
                    ("DELETE FROM tenants WHERE name = $1", ["nobody"]),
                ]
            )
            assert counts == [1, 0]
            return await store.fetch(
                "SELECT name, settings FROM tenants WHERE created_at >= $1 ORDER BY name", 1
            )
        finally:
            await store.close()

    assert asyncio.run(scenario()) == [("alpha", "{}"), ("beta", '{"x": 1}')]
