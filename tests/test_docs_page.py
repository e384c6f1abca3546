"""The API documentation page (/docs) works without the internet.

Swagger UI's script and stylesheet are served by Qala itself; the page is open to everyone, like
the OpenAPI document it shows. The browser test loads it in Debian's Chromium with every request
to another host refused, and checks that the operations are listed.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from qala.app import create_app
from qala.config import Settings
from testkit import require_service

CHROMIUM = "/usr/bin/chromium"


def test_the_page_and_its_assets_come_from_qala_without_credentials(client: TestClient) -> None:
    bare = {"Authorization": ""}
    page = client.get("/docs", headers=bare)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert links, page.text
    assert all(link.startswith("/") for link in links), links  # nothing from another host
    assert "url: '/openapi.json'" in page.text
    for link in links:
        asset = client.get(link, headers=bare)
        assert asset.status_code == 200, link
        assert len(asset.content) > 1000, link
    script = client.get("/static/docs/swagger-ui-bundle.js", headers=bare)
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    assert client.get("/docs/oauth2-redirect", headers=bare).status_code == 200


def test_the_root_is_the_dashboard_which_links_to_the_documentation(client: TestClient) -> None:
    response = client.get("/", headers={"Authorization": ""}, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in response.text


def test_assets_outside_the_bundle_are_not_served(client: TestClient) -> None:
    assert client.get("/static/docs/../../pyproject.toml").status_code == 404
    assert client.get("/static/docs/missing.js").status_code == 404


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[str]:
    """A Qala server on a free port, in this process; its base URL."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}", mqtt_url="")
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=0, log_level="warning",
        timeout_graceful_shutdown=1,  # open live streams are cut, as `qala serve` does
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _browser_missing() -> str | None:
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is not installed (Debian package chromium; make test installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make install)"
    return None


@pytest.mark.browser
def test_swagger_ui_renders_the_operations_offline(live_server: str) -> None:
    require_service(_browser_missing())
    from playwright.sync_api import Route, sync_playwright

    elsewhere: list[str] = []

    def only_qala(route: Route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", only_qala)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server}/docs")
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.url == f"{live_server}/docs"
            assert page.title() == "Qala — API"
            assert page.locator(".opblock").count() > 50  # every operation of every API
            assert page.get_by_text("/ngsi-ld/v1/entities/{entityId}").first.is_visible()
            assert not errors, errors
            assert not elsewhere, elsewhere
        finally:
            browser.close()
