"""The head watchdog sized to the chain, and what the bridge reports (pure)."""

from __future__ import annotations

import pytest

from bridge.headwatch import HeadWatch
from bridge.status import BridgeStatus


@pytest.mark.parametrize(("heads", "timeout"), [
    # ((head, seen at s), ...) -> the watchdog's timeout
    ((), 30.0),  # nothing observed: the configured maximum
    (((10, 0.0),), 30.0),  # one head: no interval yet
    (((10, 0.0), (11, 2.0), (12, 4.0), (13, 6.0)), 6.0),  # 2-s blocks: three intervals
    (((10, 0.0), (14, 2.0)), 1.5),  # four blocks in 2 s: 0.5 s each, three of them
    (((10, 0.0), (11, 0.1), (12, 0.2)), 1.0),  # 0.1-s blocks: never below a second
    (((10, 0.0), (11, 12.0), (12, 24.0)), 30.0),  # 12-s blocks: 36 s, capped at the maximum
    (((10, 0.0), (11, 2.0), (11, 5.0), (9, 6.0), (12, 7.0)), 10.5),  # heads that did not move count no interval
    (((1, 0.0), (2, 1.0), (3, 2.0), (4, 3.0), (5, 100.0)), 3.0),  # one stall: the median holds
])
def test_the_timeout_is_three_observed_block_intervals_within_bounds(heads: tuple[tuple[int, float], ...],
                                                                     timeout: float) -> None:
    w = HeadWatch(30.0)
    for head, at in heads:
        w.observe(head, at)
    assert w.timeout() == pytest.approx(timeout)


def test_a_subscription_is_dead_after_two_quiet_polls_that_found_new_blocks() -> None:
    w = HeadWatch(30.0)
    assert w.after_poll(woken=False, moved=True) is False
    assert w.after_poll(woken=False, moved=True) is True  # twice in a row: subscribe again
    assert w.after_poll(woken=False, moved=True) is False  # counting starts over
    assert w.after_poll(woken=True, moved=True) is False  # the subscription spoke
    assert w.after_poll(woken=False, moved=True) is False
    assert w.after_poll(woken=False, moved=False) is False  # an idle chain is not a dead subscription
    assert w.after_poll(woken=False, moved=True) is False


def test_health_and_ready_follow_the_connection_and_the_lag() -> None:
    s = BridgeStatus(HeadWatch(30.0), ready_max_lag=2)
    code, body = s.health()
    assert code == 503 and body["problems"] == ["not connected: starting"]
    s.connection(True)
    assert s.health()[0] == 200
    assert s.ready()[1]["problems"] == ["nothing published yet"]
    s.saw_head(105)
    s.published_up_to(102, logs=7)
    code, body = s.ready()
    assert code == 503 and body["problems"] == ["3 blocks behind the head (BRIDGE_READY_MAX_LAG is 2)"]
    s.published_up_to(103, logs=1)
    assert s.ready() == (200, s.ready()[1]) and s.ready()[1]["published"] == 103
    s.connection(False, "the node failed: ConnectionClosed()", "node")
    code, body = s.ready()
    assert code == 503 and body["problems"] == ["not connected: the node failed: ConnectionClosed()"]
    values = {(smp.name, tuple(sorted(smp.labels.items()))): smp.value
              for m in s.registry.collect() for smp in m.samples}
    assert values[("pads_bridge_head_lag_blocks", ())] == 2
    assert values[("pads_bridge_logs_published_total", ())] == 8
    assert values[("pads_bridge_errors_total", (("what", "node"),))] == 1
    assert values[("pads_bridge_connected", ())] == 0
