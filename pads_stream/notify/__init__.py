"""Webhook delivery of alerts (`python -m pads_stream notify`; docs/alerts-design.md, Delivery).

A process of its own, so a slow endpoint never shares a CPU or a queue with the fold:
`ingest` records alert events from the market-events topic in Redis (`state`) before their
offsets are committed, and `deliver` sends what is due, per endpoint, signed (`signature`),
retried with backoff (`schedule`) and dead-lettered when it keeps failing.
"""
