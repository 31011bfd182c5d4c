"""Bridge: EVM node -> Kafka `pads.chain-logs`. Backfills with eth_getLogs, then follows heads.

Only logs of the configured factory and of curves it created are forwarded. Reorgs within
FINALITY_DEPTH are undone by re-publishing the orphaned logs with removed=true; a head marker
on every partition after each block range tells consumers how far the chain is published.
"""
