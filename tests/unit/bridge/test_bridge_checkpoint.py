"""The bridge checkpoint: atomic save, exact reload, refusal of another chain's or factory's file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.checkpoint import Checkpoint, load, save
from bridge.errors import CheckpointError

FACTORY = "0x" + "fa" * 20
CURVES = {"0x" + "c3" * 20, "0x" + "c4" * 20, "0x" + "01" * 20}


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.json", 1, FACTORY) is None


@pytest.mark.parametrize("curves", [set(), CURVES])
def test_save_load_round_trip(tmp_path: Path, curves: set[str]) -> None:
    path = tmp_path / "deep" / "dir" / "checkpoint.json"
    cp = Checkpoint(8453, FACTORY, 19_000_123, set(curves))
    save(path, cp)
    assert load(path, 8453, FACTORY) == cp
    assert not path.with_suffix(".json.tmp").exists()
    assert list(path.parent.iterdir()) == [path]
    on_disk = json.loads(path.read_text())
    assert on_disk["curves"] == sorted(curves)  # deterministic file content


def test_save_replaces_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    save(path, Checkpoint(1, FACTORY, 10, {"0x" + "c3" * 20}))
    save(path, Checkpoint(1, FACTORY, 20, CURVES))
    assert load(path, 1, FACTORY) == Checkpoint(1, FACTORY, 20, CURVES)


@pytest.mark.parametrize(
    ("chain_id", "factory"),
    [(2, FACTORY), (1, "0x" + "fb" * 20), (2, "0x" + "fb" * 20)],
)
def test_other_chain_or_factory_is_refused(tmp_path: Path, chain_id: int, factory: str) -> None:
    path = tmp_path / "cp.json"
    save(path, Checkpoint(1, FACTORY, 10, CURVES))
    with pytest.raises(CheckpointError) as exc_info:
        load(path, chain_id, factory)
    message = str(exc_info.value)
    assert "BRIDGE_STATE_FILE" in message and str(path) in message
    assert f"chain {chain_id} factory {factory}" in message


def _recent() -> list[dict[str, object]]:
    from bridge.reorg import Header, RecentChain
    from pads_stream.chain.rawlog import RawLog

    def h(n: int) -> str:
        return f"0x{n:064x}"

    t = RecentChain(3)
    log = RawLog(8453, "0x" + "c3" * 20, ("0x" + "11" * 32,), "0x01", 101, h(101), 1_700_000_000, "0x" + "ab" * 32,
                 0, 4)
    t.record([Header(n, h(n), h(n - 1)) for n in range(100, 103)], [log])
    return t.to_data()


def test_recent_chain_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    cp = Checkpoint(8453, FACTORY, 102, set(CURVES), _recent())
    save(path, cp)
    loaded = load(path, 8453, FACTORY)
    assert loaded == cp
    assert loaded is not None and [b["number"] for b in loaded.recent] == [100, 101, 102]
    assert json.loads(path.read_text())["recent"][1]["logs"][0]["log_index"] == 4


def test_checkpoint_without_recent_chain_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    # The format written before reorg handling: no "recent" key.
    path.write_text(json.dumps({"chain_id": 1, "factory": FACTORY, "last_block": 77, "curves": sorted(CURVES)}))
    assert load(path, 1, FACTORY) == Checkpoint(1, FACTORY, 77, CURVES, [])


def test_malformed_recent_chain_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    path.write_text(json.dumps({"chain_id": 1, "factory": FACTORY, "last_block": 77, "curves": [], "recent": {}}))
    with pytest.raises(CheckpointError, match="BRIDGE_STATE_FILE"):
        load(path, 1, FACTORY)
