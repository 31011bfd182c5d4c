"""WriteBehind: the last value of each key, read back before the flush, and flushed in the
order one batch writes (states, positions, pending sets)."""

from __future__ import annotations

from pads_stream.candles.batch import pending_key, position_key
from pads_stream.candles.flush import WriteBehind

A, B = b"0xaa", b"0xbb"


def test_the_last_value_wins_and_reads_back_until_the_flush() -> None:
    buf = WriteBehind()
    buf.add([(0, A, b"1"), (1, B, b"x")])
    buf.add([(0, A, b"2"), (1, B, None)])
    assert buf.read(A) == (True, b"2")
    assert buf.read(B) == (True, None)  # deleted: not the table's older value
    assert buf.read(b"0xcc") == (False, None)
    assert buf.drain() == [(0, A, b"2"), (1, B, None)]
    assert len(buf) == 0 and buf.read(A) == (False, None)


def test_states_then_positions_then_pending_sets_whatever_the_batches() -> None:
    buf = WriteBehind()
    buf.add([(1, B, b"b"), (1, position_key(1), b"p1"), (1, pending_key(1), b"s1")])
    buf.add([(0, pending_key(0), b"s0"), (0, position_key(0), b"p0"), (0, A, b"a")])
    assert [k for _, k, _ in buf.drain()] == [A, B, position_key(0), position_key(1), pending_key(0), pending_key(1)]
