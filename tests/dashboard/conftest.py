"""Fixtures of the dashboard tests (defined in ``dashkit``): the seeded server, its indicators
computed, and the browser."""

from dashkit import browsing, chromium, indicators, seeded_server

__all__ = ["browsing", "chromium", "indicators", "seeded_server"]
