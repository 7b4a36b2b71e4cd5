"""bench/hostile.py --quick runs, and its figures say what the bench promises (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_hostile_bench_quick():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "hostile.py"), "--quick", "--json"],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = {(r["fault"], r["kind"]): r for r in json.loads(out.strip().splitlines()[-1])}
    bomb, naive = rows["bomb", "watcher"], rows["bomb", "baseline"]
    assert "larger than 64 MB once decompressed" in bomb["outcome"]
    assert bomb["peak_rss_mb"] < naive["peak_rss_mb"]
    assert rows["trickle", "watcher"]["seconds"] < 3 + 2  # within max_poll_time, plus a loaded machine's slack
    assert rows["trickle", "baseline"]["seconds"] >= 3 * 3 - 0.5  # the unbounded client was still reading
