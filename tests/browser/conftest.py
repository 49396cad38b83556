"""Browser tests of the dashboard: the real ``ledgerlearn dashboard`` server, Debian's Chromium.

One server per test module, on a fresh embedded chain in a temporary data
dir; one browser per session, a fresh context (no localStorage) per test.
Nothing is downloaded: Playwright drives ``/usr/bin/chromium``
(``playwright install`` is never needed). Full-page screenshots of each
test's key steps land in ``test-artifacts/browser/<test>-<step>.png``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_server import REPO, Server  # noqa: E402

CHROMIUM = os.environ.get("LEDGERLEARN_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: how long expect() waits for the page (actions run transactions on the embedded chain)
EXPECT_TIMEOUT_MS = 15_000


def skip_reason() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright==1.65.2; never `playwright install`)"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM} (apt install chromium, or set LEDGERLEARN_CHROMIUM)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = skip_reason()
    if reason is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.skip(reason=reason))


# --------------------------------------------------------------------- server
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("dashboard"))
    try:
        yield s
    finally:
        s.stop()


# -------------------------------------------------------------------- browser
@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request):
    """A fresh page; JavaScript errors on it fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def shot(request):
    """``shot(page, "step")`` saves test-artifacts/browser/<test>-<step>.png (full page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(pg, step: str) -> Path:
        path = ARTIFACTS / f"{test}-{step}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path

    return take
