"""The back office's tables on real stores (SQLite and PostgreSQL): filing, status changes,
mySociety updates (a repeated update_id refused), supporters, merging, append-only history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qala.config import Settings
from qala.open311.catalogue import load
from qala.open311.duplicates import suggest
from qala.open311.forms import parse_form, parse_service_request, parse_update
from qala.open311.repository import Draft, Event, Repository, Selection
from qala.open311.sla import WorkingCalendar, expected_datetime
from qala.store import open_store

CATALOGUE = load()
CITY = CATALOGUE.city("astana")
T0 = datetime(2026, 3, 20, 5, 0, tzinfo=UTC)  # Friday 10:00 in Astana


def run(settings: Settings, scenario: Callable[[Repository, Any], Awaitable[None]]) -> None:
    async def main() -> None:
        store = open_store(settings)
        await store.open()
        try:
            await scenario(Repository(store), store)
        finally:
            await store.close()

    asyncio.run(main())


def draft(body: bytes, at: datetime = T0, client: str | None = "fixmystreet") -> Draft:
    new = parse_service_request(parse_form(body), CATALOGUE)
    due = expected_datetime(new.service.sla, at, WorkingCalendar(CITY.zone))
    return Draft.from_form(new, at, due, client)


POTHOLE = (
    "jurisdiction_id=astana&service_code=POTHOLE&lat=51.1282&long=71.4306"
    "&attribute[size]=large&attribute[depth_cm]=12&description=Яма+у+остановки"
    "&email=a%40example.kz&first_name=Айгерим&deviceid=dev-1&attribute[fixmystreet_id]=10034"
).encode()


def test_filing_numbers_requests_per_city_and_keeps_everything(settings: Settings) -> None:
    async def scenario(repo: Repository, store: Any) -> None:
        first = await repo.create("astana", draft(POTHOLE))
        second = await repo.create("astana", draft(POTHOLE, T0 + timedelta(minutes=5)))
        other = await repo.create("almaty", draft(POTHOLE))
        assert (first.num, second.num, other.num) == (1, 2, 1)
        got = await repo.get("astana", "1")
        assert got is not None and got.status == "open" and got.extended_status == "OPEN"
        # ten working days from Friday 10:00, Nauryz (23-25 March) off: Wednesday 8 April 10:00
        assert got.requested_at == T0 and got.expected_at == datetime(2026, 4, 8, 5, tzinfo=UTC)
        assert got.attributes == {"size": "large", "depth_cm": 12.0}
        assert got.personal.email == "a@example.kz" and got.personal.device_id == "dev-1"
        assert got.external_id == "10034" and got.agency == "astana.roads"
        assert got.service_notice and got.lang == "ru"
        assert await repo.by_token("astana", first.token) == (first.token, "1")
        assert await repo.get("astana", "x1") is None and await repo.get("astana", "99") is None
        many = await repo.get_many("astana", ["2", "nope", "1", "2", "7"])
        assert [r.num for r in many] == [2, 1]
        history = await repo.history("astana", 1)
        assert [(e.kind, e.status) for e in history] == [("opened", "open")]

    run(settings, scenario)


def test_selection_by_service_status_windows_and_pages(settings: Settings) -> None:
    bin_body = (b"jurisdiction_id=astana&service_code=BIN&address_string=Kenesary+40"
                b"&attribute[container_type]=container")  # fmt: skip

    async def scenario(repo: Repository, store: Any) -> None:
        for i in range(5):
            await repo.create("astana", draft(POTHOLE, T0 + timedelta(hours=i)))
        await repo.create("astana", draft(bin_body, T0 + timedelta(hours=10)))
        await repo.change_status("astana", "2", "FIXED", T0 + timedelta(days=1), "crew-3")
        potholes = await repo.select("astana", Selection(service_codes=["POTHOLE"]))
        assert [r.num for r in potholes] == [1, 2, 3, 4, 5]
        closed = await repo.select("astana", Selection(statuses=["closed"]))
        assert [r.num for r in closed] == [2] and closed[0].closed_at == T0 + timedelta(days=1)
        window = await repo.select("astana", Selection(start=T0 + timedelta(hours=1),
                                                       end=T0 + timedelta(hours=3)))  # fmt: skip
        assert [r.num for r in window] == [2, 3, 4]
        updated = await repo.select("astana", Selection(updated_after=T0 + timedelta(hours=12)))
        assert [r.num for r in updated] == [2]
        page = await repo.select("astana", Selection(limit=2, offset=2))
        assert [r.num for r in page] == [3, 4]
        assert await repo.select("almaty", Selection()) == []

    run(settings, scenario)


def update_body(update_id: str, status: str, when: str, request: str = "1") -> bytes:
    return (
        f"jurisdiction_id=astana&api_key=k&update_id={update_id}&service_request_id={request}"
        f"&status={status}&updated_datetime={when}&description=Бригада+выехала"
        "&email=crew%40example.kz"
    ).encode()


def test_updates_apply_once_and_a_repeated_update_id_is_refused(settings: Settings) -> None:
    now = T0 + timedelta(days=2)

    async def scenario(repo: Repository, store: Any) -> None:
        await repo.create("astana", draft(POTHOLE))
        first = parse_update(parse_form(update_body("271882", "IN_PROGRESS",
                                                    "2026-03-20T12:00:00Z")), CATALOGUE, now)
        assert await repo.record_update("astana", first, "fixmystreet", now) == "stored"
        again = parse_update(parse_form(update_body("271882", "FIXED",
                                                    "2026-03-20T13:00:00Z")), CATALOGUE, now)
        assert await repo.record_update("astana", again, "fixmystreet", now) == "repeated"
        got = await repo.get("astana", "1")
        assert got is not None and got.extended_status == "IN_PROGRESS" and got.status == "open"
        assert got.status_notes == "Бригада выехала"
        missing = parse_update(parse_form(update_body("5", "FIXED", "2026-03-20T13:00:00Z",
                                                      "404")), CATALOGUE, now)  # fmt: skip
        assert await repo.record_update("astana", missing, "fixmystreet", now) == "not_found"
        # an update dated before the request's last change is kept as history only
        old = parse_update(parse_form(update_body("271880", "OPEN", "2026-03-20T11:00:00Z")),
                           CATALOGUE, now)  # fmt: skip
        assert await repo.record_update("astana", old, "fixmystreet", now) == "stored"
        assert (await repo.get("astana", "1")).extended_status == "IN_PROGRESS"
        fixed = parse_update(parse_form(update_body("271883", "fixed", "2026-03-21T04:00:00Z")),
                             CATALOGUE, now)  # fmt: skip
        assert await repo.record_update("astana", fixed, "fixmystreet", now) == "stored"
        got = await repo.get("astana", "1")
        assert (got.status, got.extended_status) == ("closed", "FIXED")
        assert got.closed_at == datetime(2026, 3, 21, 4, tzinfo=UTC)
        listed = await repo.updates("astana", T0, now)
        assert [(u.update_id, u.status) for u in listed] == [
            ("271880", "OPEN"), ("271882", "IN_PROGRESS"), ("271883", "FIXED")]  # fmt: skip
        kinds = [(e.kind, e.extended_status) for e in await repo.history("astana", 1)]
        assert kinds == [("opened", "OPEN"), ("update", "OPEN"), ("update", "IN_PROGRESS"),
                         ("update", "FIXED")]  # fmt: skip

    run(settings, scenario)


def test_status_changes_here_are_published_as_updates(settings: Settings) -> None:
    async def scenario(repo: Repository, store: Any) -> None:
        await repo.create("astana", draft(POTHOLE))
        update = await repo.change_status("astana", "1", "ACTION_SCHEDULED",
                                          T0 + timedelta(hours=2), "dispatcher-1",
                                          "Ремонт запланирован на понедельник")  # fmt: skip
        assert update is not None and update.update_id.startswith("qala-")
        assert await repo.change_status("astana", "77", "FIXED", T0, "x") is None
        listed = await repo.updates("astana", T0, T0 + timedelta(days=1))
        assert [(u.update_id, u.status) for u in listed] == [(update.update_id,
                                                              "ACTION_SCHEDULED")]  # fmt: skip
        history = await repo.history("astana", 1)
        assert history[-1].actor == "dispatcher-1" and history[-1].kind == "status"
        assert len(await repo.history("astana", 77)) == 0
        await repo.add_note("astana", 1, T0 + timedelta(hours=3), "dispatcher-1",
                            "Подрядчик: ТОО «Жол»", public=False)  # fmt: skip
        assert len(await repo.history("astana", 1, public_only=True)) == 2

    run(settings, scenario)


def test_history_and_updates_are_append_only(settings: Settings) -> None:
    async def scenario(repo: Repository, store: Any) -> None:
        await repo.create("astana", draft(POTHOLE))
        await repo.change_status("astana", "1", "FIXED", T0 + timedelta(hours=1), "crew")
        for sql in ("UPDATE open311_events SET actor = 'someone else'",
                    "DELETE FROM open311_events",
                    "UPDATE open311_updates SET status = 'OPEN'",
                    "DELETE FROM open311_updates"):  # fmt: skip
            with pytest.raises(Exception, match="append-only"):
                await store.execute([(sql, ())])
        assert len(await repo.history("astana", 1)) == 2

    run(settings, scenario)


def test_supporters_duplicates_and_merging(settings: Settings) -> None:
    near = POTHOLE.replace(b"lat=51.1282", b"lat=51.12835")  # about 17 m north

    async def scenario(repo: Repository, store: Any) -> None:
        await repo.create("astana", draft(POTHOLE))
        await repo.create("astana", draft(near, T0 + timedelta(hours=3)))
        assert await repo.support("astana", 1, "email:abc", T0 + timedelta(hours=1))
        assert not await repo.support("astana", 1, "email:abc", T0 + timedelta(hours=2))
        assert await repo.support("astana", 1, "device:def", T0 + timedelta(hours=2))
        assert not await repo.support("astana", 99, "device:def", T0)
        assert (await repo.get("astana", "1")).supporters == 2
        service = CITY.service("POTHOLE")
        at = T0 + timedelta(hours=3)
        candidates = await repo.nearby("astana", "POTHOLE", 51.12835, 71.4306,
                                       service.duplicate_radius_m,
                                       at - timedelta(hours=service.duplicate_window_h),
                                       at)  # fmt: skip
        found = suggest(service, 51.12835, 71.4306, at, candidates, exclude="2")
        assert [s.service_request_id for s in found] == ["1"]
        assert 15 < found[0].distance_m < 19
        assert await repo.merge("astana", 2, 1, at + timedelta(hours=1), "dispatcher-1")
        assert not await repo.merge("astana", 2, 2, at, "dispatcher-1")
        merged = await repo.get("astana", "2")
        assert (merged.status, merged.extended_status, merged.duplicate_of) == (
            "closed", "DUPLICATE", 1)  # fmt: skip
        assert [e.kind for e in await repo.history("astana", 1)] == ["opened", "merged"]
        assert not await repo.support("astana", 2, "email:zzz", at)  # closed: no +1

    run(settings, scenario)


def test_bulk_import_of_past_requests_moves_the_counter(settings: Settings) -> None:
    async def scenario(repo: Repository, store: Any) -> None:
        d = draft(POTHOLE, T0 - timedelta(days=30))
        closed_at = T0 - timedelta(days=25)
        events = [
            Event(41, d.requested_at, "resident", "opened", "open", "OPEN", None, True),
            Event(41, closed_at, "crew", "status", "closed", "FIXED", "Засыпали", True),
        ]
        await repo.import_requests("astana", [(41, d, "closed", "FIXED")], events)
        got = await repo.get("astana", "41")
        assert got is not None and got.closed_at == closed_at and got.updated_at == closed_at
        assert (await repo.create("astana", draft(POTHOLE))).num == 42

    run(settings, scenario)
