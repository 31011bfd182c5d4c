"""Browser tests run on the integration tests' real stack (Kafka, Redis, anvil, the Node
backend, bridge, worker, API) and drive Debian's chromium with Playwright (never a browser
Playwright downloads: `playwright install` is not used)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.api_stack import api  # noqa: F401
from tests.integration.conftest import backend, deployment, kafka, redis_server, workdir  # noqa: F401

CHROMIUM = "/usr/bin/chromium"


# Module-scoped: Playwright's sync API runs an event loop in this thread while it is open, and
# every later test that calls asyncio.run() would fail with "cannot be called from a running
# event loop" (35 unit and integration tests did, in a whole-suite run).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
