"""Where a batch's outputs go: the sink protocol and the fan-out (see `base`)."""

from .base import BestEffortSink, DurableSink, SinkHealth, Sinks

__all__ = ["BestEffortSink", "DurableSink", "SinkHealth", "Sinks"]
