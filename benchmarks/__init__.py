"""Benchmarks: preloaded raw logs -> workers to lag 0, with throughput, memory and CPU figures."""
