"""Thin Faust agents: each reads one topic, calls pure code, writes the next stage."""
