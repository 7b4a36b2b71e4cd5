"""bench/webhooks.py --quick runs and prints both figures side by side, webhook far sooner than polling."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_bench_prints_webhook_and_polling_latency(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "webhooks.py"), "--quick"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    hook = re.search(r"by webhook \(measured, 3 releases\): +median ([\d.]+) s", out.stdout)
    poll = re.search(r"by polling every 15m00s, jitter 10% \(default; computed\): median (\d+)m(\d+)s", out.stdout)
    assert hook and poll, out.stdout
    assert float(hook.group(1)) < 60  # seconds, not a poll interval (generous: a loaded CI machine)
    assert 6 * 60 <= int(poll.group(1)) * 60 + int(poll.group(2)) <= 9 * 60  # about half of 15m + 10% jitter
    assert re.search(r"webhook is \d+x sooner", out.stdout)
