"""Fixtures of the dashboard tests (defined in ``dashkit``): the seeded server and the browser."""

from dashkit import browsing, chromium, seeded_server

__all__ = ["browsing", "chromium", "seeded_server"]
