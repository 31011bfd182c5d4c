"""Decoded token states kept between batches (pure): a hot token is decoded once, not once
per batch. Bounded (least recently used goes first), so memory follows STATE_CACHE_SIZE and
not the number of tokens.

It holds exactly what the table holds only while batches complete: the agent keeps a
batch's states after their table writes were made, and clears everything when a batch fails
or partitions move (another worker may have changed them).
"""

from __future__ import annotations

from collections import OrderedDict

from ..alerts.evaluate import RuleIndex
from .state import TokenState


class StateCache:
    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens
        self.states: OrderedDict[bytes, TokenState] = OrderedDict()
        # Each partition's pending index: a marker reads it, and decoding it per batch cost
        # more than the batch's trades with a thousand tokens pending.
        self.pending: dict[int, dict[bytes, int]] = {}
        self.windows: dict[int, dict[bytes, int]] = {}  # each partition's window index, likewise
        self.rules: dict[int, RuleIndex] = {}  # each partition's alert rules
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self.states)

    def get(self, key: bytes) -> TokenState | None:
        state = self.states.get(key)
        if state is None:
            self.misses += 1
        else:
            self.hits += 1
        return state

    def keep(self, states: dict[bytes, TokenState], pending: dict[int, dict[bytes, int]] | None = None,
             windows: dict[int, dict[bytes, int]] | None = None, rules: dict[int, RuleIndex] | None = None) -> None:
        self.pending.update(pending or {})
        self.windows.update(windows or {})
        self.rules.update(rules or {})
        for key, state in states.items():
            self.states[key] = state
            self.states.move_to_end(key)
        while len(self.states) > self.max_tokens:
            self.states.popitem(last=False)[1].forget_derived()

    def clear(self) -> None:
        self.states.clear()
        self.pending.clear()
        self.windows.clear()
        self.rules.clear()
