"""Polling benchmark: the watcher beside a plain listing script, in one run, against fakes in their own process.

    .venv/bin/python bench/poll.py            # about ten minutes on 2 busy cores
    .venv/bin/python bench/poll.py --quick    # small worlds, short latency, 100 daemon cycles (run by a test)

Processes: the fake Hub and GitHub (bench/world.py), the watcher (bench/drivers.py `cycles`, or
`python -m watcher poll`), and the baseline script (bench/drivers.py `script`) each run on their own,
so none shares a GIL with another. The baseline is what a person would write without the watcher:
`HfApi.list_models(author=a, full=True)` for each author, one after another. The network floor is the
time the requests need at the configured concurrency: ceil(authors / concurrency) x pages x latency.
Figures are min / median of the repeats; the machine may be shared, so compare the min.

Every process runs as deployed: watcher's own modules are byte-compiled first (compileall), as pip and the
container image install them, and as the script's imports (huggingface_hub, installed) already are. A
checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile them again in every process, a cost
no installed watcher pays. In-cycle times are unaffected: they are taken in a process that has imported
everything already.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from helpers import base_config  # noqa: E402

PY = sys.executable
PAGE = 100  # the fake Hub's listing page size
CONCURRENCY = 8  # huggingface.concurrency's default
HEAVY = ("huggingface_hub", "github", "slack_sdk", "apscheduler", "alembic", "httpx2", "rich")


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (
        "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "HF_TOKEN", "GITHUB_TOKEN", "SLACK_BOT_TOKEN",
        "SLACK_WEBHOOK_URL", "WATCHER_DATABASE_URL", "HF_ENDPOINT", "WATCHER_CONFIG", "WATCHER_NOW")}
    env.update({"NO_PROXY": "*", "PYTHONPATH": str(ROOT), "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HOME": env.get("HF_HOME") or tempfile.mkdtemp(prefix="bench-hf-")})
    return env


class World:
    """bench/world.py as a child process, steered over its stdin."""

    def __init__(self, authors: int, repos: int) -> None:
        self.proc = subprocess.Popen([PY, str(ROOT / "bench" / "world.py"), str(authors), str(repos),
                                      "--page-size", str(PAGE)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=child_env())
        urls = json.loads(self.proc.stdout.readline())
        self.hub, self.github = urls["hub"], urls["github"]

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=True, env=child_env(), **kw)


def timed(cmd: list[str], repeats: int, ok=(0,)) -> list[float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
        times.append(time.perf_counter() - t)
        if proc.returncode not in ok:
            raise SystemExit(f"{' '.join(cmd[-3:])} exited {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return times


def mm(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f}"


def scale_config(world: World, tmp: Path, authors: int) -> Path:
    cfg = base_config(world.hub, world.github, tmp / f"scale-{authors}-{time.monotonic_ns()}.db")
    watch = cfg["watches"][0]
    watch["huggingface"] = {"authors": [f"Lab{a}" for a in range(authors)], "include": ["Model-*"]}
    watch.pop("github")
    path = Path(str(cfg["database"]).removeprefix("sqlite:///")).with_suffix(".yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def cycle_lines(config: Path, n: int) -> list[dict]:
    out = run([PY, str(ROOT / "bench" / "drivers.py"), "cycles", str(config), str(n)])
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    for line in lines:
        if line["errors"]:
            raise SystemExit(f"cycle errors: {line['errors']}")
    return lines


def scale_row(authors: int, repos: int, tmp: Path, latency: float, repeats: int) -> dict:
    """One world: the watcher in-cycle and as a process, the script, the floor; quiet-cycle writes."""
    world = World(authors, repos)
    try:
        config = scale_config(world, tmp, authors)
        cycle_lines(config, 2)  # the baseline cycle (sizes fetched once) and one settling cycle
        world.ask(f"latency {latency}")
        steady = cycle_lines(config, repeats)
        world.ask("reset")
        process = timed([PY, "-m", "watcher", "--config", str(config), "poll"], repeats)
        requests = int(world.ask("count").split()[0]) / repeats
        authors_args = [f"Lab{a}" for a in range(authors)]
        script = [json.loads(run([PY, str(ROOT / "bench" / "drivers.py"), "script", world.hub, *authors_args])
                             .stdout)["seconds"] for _ in range(repeats)]
        script_proc = timed([PY, str(ROOT / "bench" / "drivers.py"), "script", world.hub, *authors_args], repeats)
    finally:
        world.close()
    pages = max(1, math.ceil(repos / PAGE))
    return {
        "world": f"{authors} x {repos:,}", "requests": requests,
        "in_cycle": [s["seconds"] for s in steady], "cpu": [s["cpu"] for s in steady],
        "wal": [s["wal_bytes"] for s in steady], "process": process, "script": script, "script_proc": script_proc,
        "floor": math.ceil(authors / CONCURRENCY) * pages * latency, "db": str(config),
    }


def print_scale(rows: list[dict], latency: float) -> None:
    print(f"1. Quiet cycle, Hub only, {latency * 1000:.0f} ms per request, concurrency {CONCURRENCY} "
          f"(seconds, min / median)")
    print("   | world | requests | network floor | watcher in-cycle | watcher process | process / in-cycle "
          "| CPU in cycle | script in-loop | script process | script / watcher (min) |")
    print("   |---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = min(r["script"]) / min(r["in_cycle"])
        start = f"{min(r['process']) / min(r['in_cycle']):.2f} / {statistics.median(r['process']) / statistics.median(r['in_cycle']):.2f}"
        print(f"   | {r['world']} | {r['requests']:.0f} | {r['floor']:.2f} | {mm(r['in_cycle'])} | {mm(r['process'])} "
              f"| {start} | {mm(r['cpu'])} | {mm(r['script'])} | {mm(r['script_proc'])} | {ratio:.1f}x |")
    print("2. Database writes of a quiet cycle (bytes appended to SQLite's WAL; WAL truncated before the cycle;"
          " 4,120 B per page)")
    for r in rows:
        print(f"   {r['world']}: {min(r['wal']):,} B (max {max(r['wal']):,} B) = {min(r['wal']) // 4120} page(s)")


def fill_history(db: Path, events: int) -> None:
    """10,000 events with their (delivered) outbox rows, as months of a busy watch would leave."""
    conn = sqlite3.connect(db)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    run_id = conn.execute("SELECT max(id) FROM poll_runs").fetchone()[0]
    watch = conn.execute("SELECT name FROM watches").fetchone()[0]
    for i in range(events):
        at = (now - dt.timedelta(minutes=events - i)).isoformat(sep=" ")
        data = json.dumps({"url": f"https://example.invalid/Lab{i % 50}/Model-{i}", "weights": True,
                           "weight_files": 1, "weight_bytes": 2_000_000_000, "params": None, "gated": None})
        cur = conn.execute("INSERT INTO events (watch, kind, dedup_key, source, repo_id, data, created_at, "
                           "poll_run_id) VALUES (?, 'repo_appeared', ?, 'huggingface', ?, ?, ?, ?)",
                           (watch, f"bench:{i}", f"Lab{i % 50}/Old-{i}", data, at, run_id))
        conn.execute("INSERT INTO deliveries (watch, destination, event_ids, status, attempts, created_at, "
                     "delivered_at) VALUES (?, 'console', ?, 'delivered', 1, ?, ?)",
                     (watch, json.dumps([cur.lastrowid]), at, at))
    conn.commit()
    conn.close()


def status_figures(config: Path, repeats: int) -> None:
    db = Path(yaml.safe_load(config.read_text())["database"].removeprefix("sqlite:///"))
    fill_history(db, 10_000)
    base = [PY, "-m", "watcher", "--config", str(config)]
    repos = sqlite3.connect(db).execute("SELECT count(*) FROM repos").fetchone()[0]
    print(f"3. `watcher status` on {repos:,} repos and 10,000 events (process wall seconds, min / median of {repeats})")
    print(f"   python -c pass:            {mm(timed([PY, '-c', 'pass'], repeats))}")
    print(f"   python -c 'import watcher.cli.app': {mm(timed([PY, '-c', 'import watcher.cli.app'], repeats))}")
    print(f"   status --json:             {mm(timed(base + ['status', '--json'], repeats))}")
    print(f"   status --check:            {mm(timed(base + ['status', '--check'], repeats, ok=(0, 1)))}")
    print(f"   status (table):            {mm(timed(base + ['status'], repeats))}")
    out = subprocess.run([PY, "-X", "importtime", *base[1:], "status", "--json"], capture_output=True, text=True,
                         env=child_env())
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    found = [m for m in HEAVY if m in loaded]
    print(f"   status --json imports, of {', '.join(HEAVY)}: {', '.join(found) if found else 'none'}")


def daemon_figure(tmp: Path, cycles: int) -> None:
    print(f"4. Daemon RSS: the shipped Qwen watch, {cycles} poll jobs through the daemon's APScheduler, no latency")
    world = World(0, 0)
    try:
        path = tmp / "daemon.yaml"
        path.write_text(yaml.safe_dump(base_config(world.hub, world.github, tmp / "daemon.db")))
        out = run([PY, str(ROOT / "bench" / "drivers.py"), "daemon", str(path), str(cycles)])
    finally:
        world.close()
    points = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    first, last = points[0], points[-1]
    growth = 100 * (last["rss_mb"] - first["rss_mb"]) / first["rss_mb"]
    per = (last["seconds"] - first["seconds"]) / max(1, last["cycles"] - first["cycles"]) * 1000
    print(f"   after {first['cycles']} cycles: {first['rss_mb']:.1f} MB; after {last['cycles']}: "
          f"{last['rss_mb']:.1f} MB; growth {growth:+.1f}% ({per:.0f} ms per cycle)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small worlds, 20 ms latency, 100 daemon cycles")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (default 3, quick 2)")
    args = parser.parse_args()
    repeats = args.repeats or (2 if args.quick else 3)
    latency = 0.02 if args.quick else 0.1
    worlds = [(10, 20), (1, 300)] if args.quick else [(50, 20), (50, 100), (1, 1000), (1, 5000)]
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPU(s), load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
          f"Python {sys.version.split()[0]}")
    compiled = compileall.compile_dir(ROOT / "watcher", quiet=1)
    print(f"watcher's modules byte-compiled first, as installed ({'ok' if compiled else 'FAILED'}); "
          "process figures are processes as deployed")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = [scale_row(a, r, tmp, latency, repeats) for a, r in worlds]
        print_scale(rows, latency)
        status_figures(Path(rows[0]["db"]), repeats + (0 if args.quick else 2))
        daemon_figure(tmp, 100 if args.quick else 1000)


if __name__ == "__main__":
    main()
