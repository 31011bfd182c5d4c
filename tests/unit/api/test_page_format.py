"""The chart page's price text (static/format.js), run in Node: subscript zeros as launchpad
traders read them, six significant digits otherwise, never an exponent."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

FORMAT_JS = Path(__file__).parents[3] / "pads_stream" / "api" / "static" / "format.js"
CASES = [
    ("0.000000028431", "0.0₇28431"),
    ("2.84315e-8", "0.0₇28432"),  # five significant digits after the zeros
    ("0.0000000305465429583990655623990913292", "0.0₇30547"),  # a worker price string, as the page gets it
    ("0.00001", "0.0₄1"),  # four zeros: the first subscript
    ("0.0001234", "0.0001234"),  # three: plain
    ("9.99999e-9", "0.0₇1"),  # rounds up to 1.0000e-8: one zero less
    ("1e-18", "0.0₁₇1"),
    ("0.5", "0.5"),
    ("1.23456789", "1.23457"),
    ("1234567.891", "1234570"),  # never 1.23457e+6
    ("0", "0"),
    ("-0.00000002", "-0.0₇2"),
]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is installed by make setup")
def test_prices_read_as_launchpad_traders_expect() -> None:
    script = (f"const f = require({json.dumps(str(FORMAT_JS))});"
              f"process.stdout.write(JSON.stringify({json.dumps([v for v, _ in CASES])}.map(f.price)));")
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout) == [shown for _, shown in CASES]
