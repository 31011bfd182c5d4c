"""Bridge: EVM node -> Kafka `pads.chain-logs`. Backfills with eth_getLogs, then follows heads.

Only logs of the configured factory and of curves it created are forwarded.
"""
