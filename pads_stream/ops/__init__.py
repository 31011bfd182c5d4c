"""Operator commands: `python -m pads_stream checksum | check | replay`.

Pure parts (canonical encoding, recompute) are kept apart from the
Kafka and Redis plumbing so they can be unit-tested without services.
"""

from __future__ import annotations

from ..errors import PadsStreamError


class OpsError(PadsStreamError):
    """An operator command cannot go on; the message says why and what to do."""
