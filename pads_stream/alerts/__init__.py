"""Alert rules (docs/alerts-design.md): the rule model, its pure evaluation at a token's chain
events, and the compacted topic that stores rules with their webhooks.

A layer below candles: the fold imports `evaluate`, never the other way round.
"""

from __future__ import annotations

from ..errors import PadsStreamError


class RuleError(PadsStreamError):
    """A rule is not valid; `field` names the field at fault (the API answers 400 with it)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
