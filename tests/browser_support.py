"""Chromium for the browser tests of toro-monitor and of plugins' monitor pages (toro-metrics):
Playwright driving Debian's chromium package, on pages that fail the test on any CSP refusal or
script error.

``BROWSER`` marks a module's tests (skipped without Chromium), ``serve`` serves an ASGI app (the
monitor) from a thread for as long as a test needs it, and ``shot`` writes a screenshot to
docs/screenshots/ when ``TORO_MONITOR_SCREENSHOTS=1`` (the READMEs show them), otherwise to the
test's temporary folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toro_core.testing import wait_for

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
#: ``pytestmark`` of a module of browser tests.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` (ASGI) served by uvicorn on a free local port from a thread; its URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=15)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def chromium_page(height: int = 860):  # type: ignore[no-untyped-def]
    """A Chromium page; fails the test if the page's CSP refused anything (Chromium reports
    each refusal on the console) or a script raised: the proof that htmx, the monitor's script
    and plugin pages run under the policy."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": height})
        problems: list[str] = []
        try:
            page = context.new_page()
            page.on(
                "console",
                lambda m: (
                    problems.append(m.text)
                    if m.type == "error"
                    and ("Content Security Policy" in m.text or "eval" in m.text)
                    else None
                ),
            )
            page.on("pageerror", lambda error: problems.append(str(error)))
            yield page
        finally:
            context.close()
            browser.close()
        assert problems == [], problems


def shot(page, name: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = SCREENSHOTS if os.environ.get("TORO_MONITOR_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
