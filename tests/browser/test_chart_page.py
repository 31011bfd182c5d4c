"""The chart page in a real headless Chromium on the real stack: it lists the tokens, draws the
bars the API returns, shows a new trade within 2 s, catches up after a reconnect, and replaces
an older bar after a reorg."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.integration.api_stack import INTERVALS, Api
from tests.integration.conftest import Deployment, wait_for
from tests.integration.driver import next_boundary
from tests.integration.test_pipeline import assert_exact

PROVISIONAL = "#f0b90b"
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".test-output"


def as_drawn(candles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bars the page must draw for API candles: numbers parsed from the exact strings,
    provisional ones hollow amber."""
    out = []
    for c in candles:
        bar = {"time": c["t"], "open": float(c["open"]), "high": float(c["high"]), "low": float(c["low"]),
               "close": float(c["close"])}
        if not c["final"]:
            bar.update(color="rgba(0,0,0,0)", borderColor=PROVISIONAL, wickColor=PROVISIONAL)
        out.append(bar)
    return out


def drawn(page: Any) -> list[dict[str, Any]]:
    bars: list[dict[str, Any]] = page.evaluate("window.padsChart.bars()")
    return bars


def api_candles(api: Api, token: str) -> list[dict[str, Any]]:
    candles: list[dict[str, Any]] = api.ok(f"/v1/tokens/{token}/candles?interval=1m&countback=500")["candles"]
    return candles


def test_chart_page_draws_the_api_bars_live_and_through_a_reorg(deployment: Deployment, api: Api, browser: Any,
                                                                tmp_path: Path) -> None:
    d = deployment
    first = d.pad.create_curve("First <b>coin</b>", "FIRST")
    second = d.pad.create_curve("Second <img src=x onerror=alert(1)>", "SECOND")
    traders = d.pad.accounts[1:6]
    for i in range(6):
        d.pad.buy(first if i % 2 else second, traders[i % 5], (i + 1) * 10**16)
    d.start_bridge()
    d.start_worker(OHLCV_INTERVALS=INTERVALS)
    assert_exact(d, timeout=60)

    page = browser.new_page(viewport={"width": 1400, "height": 800}, bypass_csp=True)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        page.goto(api.url + "/")
        page.wait_for_function("window.padsChart && window.padsChart.ready", timeout=15_000)
        # the token list, newest first, names as text: the markup in them is shown, not parsed
        assert page.evaluate("window.padsChart.tokens()") == [second.token, first.token]
        listed = page.inner_text("#tokens")
        assert "FIRST" in listed and "First <b>coin</b>" in listed and "<img src=x onerror=alert(1)>" in listed
        assert page.locator("#tokens img").count() == 0 and page.locator("#tokens b").count() == 0

        page.evaluate(f"window.padsChart.select('{first.token}', '1m')")
        page.wait_for_function("window.padsChart.ready", timeout=10_000)
        assert drawn(page) == as_drawn(api_candles(api, first.token))
        assert page.evaluate("window.padsChart.stats.connects") >= 1

        # A new trade: the last bar updates (or a new one appears) within 2 s of its block.
        before = sum(c["trades"] for c in page.evaluate("window.padsChart.raw()"))
        d.pad.buy(first, traders[0], 5 * 10**16)
        mined = time.monotonic()
        page.wait_for_function(f"window.padsChart.raw().reduce((n, c) => n + c.trades, 0) > {before}",
                               timeout=2_000)
        took = time.monotonic() - mined
        assert took < 2.0
        wait_for(lambda: drawn(page) == as_drawn(api_candles(api, first.token)), 10, "the page to equal the API")
        assert page.evaluate("window.padsChart.stats.reloads") == 0

        # Offline: a trade made meanwhile shows once the page reconnects (it refetches from its last bar).
        page.evaluate("window.padsChart.socket().disconnect()")
        offline = sum(c["trades"] for c in api_candles(api, first.token))
        d.pad.buy(first, traders[4], 4 * 10**16)
        wait_for(lambda: sum(c["trades"] for c in api_candles(api, first.token)) > offline, 10, "the API to have it")
        time.sleep(0.5)  # a push would have reached a connected page by now
        assert sum(c["trades"] for c in page.evaluate("window.padsChart.raw()")) == offline
        page.evaluate("window.padsChart.socket().connect()")
        wait_for(lambda: drawn(page) == as_drawn(api_candles(api, first.token)), 10, "the page to catch up")
        stats = page.evaluate("window.padsChart.stats")
        assert stats["connects"] == 2 and stats["refetches"] == 1 and stats["reloads"] == 0

        # A reorg: bucket B0 gets two trades, B1 one; replacing the last two blocks takes B0's second
        # trade and B1's away and puts another buy in (anvil stamps the new blocks with B0's time).
        now = d.pad.w3.eth.get_block("latest")["timestamp"]
        b0 = next_boundary(now, 60) + 60
        d.pad.set_automine(False)
        try:
            for ts, wei in ((b0 + 5, 10**16), (b0 + 10, 2 * 10**16), (b0 + 65, 3 * 10**16)):
                d.pad.buy(first, traders[1], wei, wait=False)
                d.pad.mine(ts)
        finally:
            d.pad.set_automine(True)
        page.wait_for_function(f"window.padsChart.raw().slice(-1)[0].t === {b0 + 60}", timeout=10_000)
        old_b0 = next(c for c in page.evaluate("window.padsChart.raw()") if c["t"] == b0)
        assert old_b0["trades"] == 2 and not old_b0["final"]
        reloads = page.evaluate("window.padsChart.stats.reloads")
        tx = {"from": traders[2], "to": d.pad.w3.to_checksum_address(first.curve), "value": hex(7 * 10**16),
              "data": d.pad.curve(first.curve).encode_abi("buy", [0]), "gas": hex(300_000)}
        d.pad.rpc("anvil_reorg", [2, [[tx, 1]]])
        d.pad.buy(second, traders[3], 10**16)  # the chain moves on
        assert_exact(d, timeout=60)
        expected = api_candles(api, first.token)
        new_b0 = next(c for c in expected if c["t"] == b0)
        assert new_b0 != old_b0  # the older bar changed: its second trade left the chain
        wait_for(lambda: drawn(page) == as_drawn(api_candles(api, first.token)), 10,
                 "the page to replace the corrected bar")
        assert page.evaluate("window.padsChart.stats.reloads") > reloads
        assert next(c for c in page.evaluate("window.padsChart.raw()") if c["t"] == b0) == new_b0
        shot = tmp_path / "chart-page.png"
        page.screenshot(path=str(shot))

        # Finality: once every trade is FINALITY_DEPTH deep, every bar is drawn as final.
        for _ in range(int(d.env["FINALITY_DEPTH"]) + 1):
            d.pad.mine()
        wait_for(lambda: all(c["final"] for c in page.evaluate("window.padsChart.raw()")), 30, "final bars")
        assert all("borderColor" not in b for b in drawn(page))
        assert drawn(page) == as_drawn(api_candles(api, first.token))
    finally:
        SCREENSHOTS.mkdir(exist_ok=True)
        final = SCREENSHOTS / "chart-page.png"
        page.screenshot(path=str(final))
        print(f"screenshots: {final} (and {tmp_path / 'chart-page.png'} after the reorg)")
        page.close()
    assert problems == []
