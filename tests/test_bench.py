"""bench/poll.py --quick runs end to end, so the benchmark cannot rot again (figures are not asserted: no timing)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_polling_benchmark_runs_in_quick_mode():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "poll.py"), "--quick", "--repeats", "1"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert re.search(r"\| 10 x 20 \| 10 \|", text) and re.search(r"\| 1 x 300 \| 3 \|", text)
    writes = [int(n.replace(",", "")) for n in re.findall(r": ([\d,]+) B \(max", text)]
    assert len(writes) == 2 and max(writes) <= 16 * 1024  # bytes, not time: a quiet cycle writes a few pages
    assert "status --check:" in text and "status --json imports" in text
    assert re.search(r"after 100: [\d.]+ MB", text)
