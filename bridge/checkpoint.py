"""The bridge's checkpoint: last fully published block, the curves known so far, and the
recent chain (retained block hashes and logs, see reorg.py) needed to undo a reorg.

Written atomically (temp file + rename) only after Kafka acknowledged every log and head
marker up to that block, so a restart resumes without a gap; a duplicate after a crash is
harmless downstream. Checkpoints written before `recent` existed load with none retained.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CheckpointError


@dataclass
class Checkpoint:
    chain_id: int
    factory: str
    last_block: int
    curves: set[str] = field(default_factory=set)
    recent: list[dict[str, Any]] = field(default_factory=list)  # RecentChain.to_data()


def load(path: Path, chain_id: int, factory: str) -> Checkpoint | None:
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    if d["chain_id"] != chain_id or d["factory"] != factory:
        raise CheckpointError(f"{path} belongs to chain {d['chain_id']} factory {d['factory']}, not "
                              f"chain {chain_id} factory {factory}: point BRIDGE_STATE_FILE elsewhere")
    recent = d.get("recent", [])
    if not isinstance(recent, list):
        raise CheckpointError(f"{path}: 'recent' is not a list: delete it or point BRIDGE_STATE_FILE elsewhere")
    return Checkpoint(chain_id, factory, int(d["last_block"]), set(d["curves"]), recent)


def save(path: Path, cp: Checkpoint) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"chain_id": cp.chain_id, "factory": cp.factory, "last_block": cp.last_block,
                               "curves": sorted(cp.curves), "recent": cp.recent}))
    os.replace(tmp, path)
