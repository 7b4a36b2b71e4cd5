"""Hostile-server benchmark (issue 16): memory of a compression bomb, and how long a cycle lasts against
servers that never answer or trickle, each beside the naive baseline measured in the same run.

    .venv/bin/python bench/hostile.py           # 1 GB bomb (about 1 MB on the wire), 3 s trickle window
    .venv/bin/python bench/hostile.py --quick   # 100 MB bomb; what the test suite runs

Each figure comes from a fresh child process (peak RSS is per process). The watcher side is a real
HubSource (huggingface_hub over httpx) against tests/fakes; the baseline is a plain httpx client reading
the same answer the usual way (decompress it all, then parse), with the same idle timeout (1 s; 10 s
for the bomb, which must be read in full to be measured).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "HF_TOKEN", "HF_ENDPOINT"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = "*"


def child(kind: str, fault: str, size: int, window: float) -> dict:
    """One measurement, in this (child) process."""
    from fakes import FakeHub

    from watcher.config import HubSettings, Watch
    from watcher.sources.hf import HubSource

    with FakeHub() as hub:
        hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
        if fault == "bomb":
            from fakes.server import _bomb

            _bomb(size)  # compressed before the clock starts (and cached)
            hub.bomb_bytes = size
        else:
            hub.trickle = 0.2
        started = time.monotonic()
        outcome = ""
        if kind == "watcher":
            settings = HubSettings(endpoint=hub.url, timeout="10s" if fault == "bomb" else "1s", retries=1,
                                   max_retry_wait="0s",
                                   max_poll_time=f"{window}s")
            source = HubSource(settings, sleep=lambda s: None)
            watch = Watch.model_validate({"name": "w", "flagship": {"name": "F", "released": "2026-01-01"},
                                          "lag_days": {"min": 1, "max": 2}, "huggingface": {"authors": ["Qwen"]}})
            report = source.poll(watch, {})
            source.close()
            outcome = str((report.errors or ["ok"])[0])[-90:]
        else:
            import httpx2

            with httpx2.Client(timeout=10.0 if fault == "bomb" else 1.0) as client:
                deadline = started + window
                try:
                    response = client.get(f"{hub.url}/api/models", params={"author": "Qwen"})
                    outcome = f"read {len(response.content) / 1e6:.0f} MB"
                except httpx2.HTTPError as exc:
                    outcome = type(exc).__name__
                if fault == "trickle" and time.monotonic() > deadline:
                    outcome += f" (past the {window:g} s window: nothing bounds it)"
        seconds = time.monotonic() - started
        hub.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"kind": kind, "fault": fault, "seconds": round(seconds, 2), "peak_rss_mb": round(rss_mb), "outcome": outcome}


def measure(kind: str, fault: str, size: int, window: float, limit: float) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, fault, str(size), str(window)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"kind": kind, "fault": fault, "seconds": limit, "peak_rss_mb": None,
                "outcome": f"still running after {limit:g} s (killed)"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=4)
    parser.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    args = parser.parse_args()
    if args.child:
        kind, fault, size, window = args.child
        print(json.dumps(child(kind, fault, int(size), float(window))))
        return
    size = (100 if args.quick else 1024) * 1024 * 1024
    window = 3.0
    rows = []
    for fault in ("bomb", "trickle"):
        for kind in ("watcher", "baseline"):
            limit = (3 if args.quick else 10) * window if fault == "trickle" else 300
            rows.append(measure(kind, fault, size, window, limit))
    print(f"compression bomb: {size // (1024 * 1024)} MB of JSON whitespace, gzip; trickle: 1 byte / 0.2 s, "
          f"1 s idle timeout, {window:g} s per-source window (max_poll_time)")
    for row in rows:
        rss = f"{row['peak_rss_mb']} MB" if row["peak_rss_mb"] is not None else "-"
        print(f"  {row['fault']:8} {row['kind']:8} {row['seconds']:7.2f} s  peak RSS {rss:>8}  {row['outcome']}")
    if "--json" in sys.argv:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
