"""The dashboard as a capability: its pages and assets (``/``, ``/dashboard/…``), the live
stream ``/api/v1/dashboard/events`` and the hub participant feeding it (``dashboard.live``)."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.dashboard import routes
from qala.dashboard.live import LiveFeed
from qala.services import Services


async def start(svc: Services) -> None:
    feed = LiveFeed()
    svc.state.put(LiveFeed, feed)
    svc.hub.add_participant(feed)


async def stop(svc: Services) -> None:
    feed = svc.state.pop(LiveFeed)
    if feed is not None:
        svc.hub.remove_participant(feed)


def capability() -> Capability:
    return Capability(name="dashboard", routers=[(routes.router, "")], start=start, stop=stop)
