"""Polling benchmark: prints the five figures of issue 6 in one run, against the project's own fakes.

    .venv/bin/python bench/poll.py            # about four minutes on 2 cores
    .venv/bin/python bench/poll.py --quick    # smaller naive sample, 100 daemon cycles

The fakes (tests/fakes) run in this process on 127.0.0.1 with a configurable per-request latency; the
watcher runs for real (its sources, pools, SQLite store). GitHub is authorized (a token is set), as a
team would run it, so 304s are free. Cycles are taken as spaced further apart than the event feed's
X-Poll-Interval (the fake announces 0 s), like a 15-minute daemon.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.update({"NO_PROXY": "*", "GITHUB_TOKEN": "ghp_benchtoken123456"})
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="bench-hf-"))
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "HF_TOKEN", "SLACK_BOT_TOKEN",
             "SLACK_WEBHOOK_URL", "WATCHER_DATABASE_URL", "HF_ENDPOINT", "WATCHER_CONFIG"):
    os.environ.pop(_var, None)

import requests  # noqa: E402
import yaml  # noqa: E402
from fakes import FakeGitHub, FakeHub  # noqa: E402
from helpers import base_config  # noqa: E402

OWNERS, PER_OWNER = 50, 10  # 50 owners x (10 Hub models + 10 GitHub repos) = 1,000 watched repos
HEAVY = ("huggingface_hub", "github", "slack_sdk", "apscheduler")
PY = sys.executable


class CountingGitHub(FakeGitHub):
    """Remembers the status of every answer, to count the 304s."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[int] = []

    def finalize(self, req, resp):
        resp = super().finalize(req, resp)
        with self.lock:
            self.statuses.append(resp.status)
        return resp


def build_world(hub: FakeHub, github: FakeGitHub) -> None:
    for o in range(OWNERS):
        for r in range(PER_OWNER):
            files = {"model.safetensors": 2_000_000_000} if r % 2 == 0 else {"README.md": 10}
            hub.add_model(f"Lab{o}/Qwen3.7-{r}B", files)
            github.add_repo(f"Lab{o}/Qwen3.7-{r}")
        github.add_release(f"Lab{o}/Qwen3.7-0", "v1.0")


def watch_config(hub: FakeHub, github: FakeGitHub, db: Path, owners: int, patterns: int) -> Path:
    cfg = base_config(hub.url, github.url, db)
    include = ["Qwen3.7-*"] if patterns == 1 else [f"Qwen3.7-{i}*" for i in range(patterns)]
    watch = cfg["watches"][0]
    names = [f"Lab{o}" for o in range(owners)]
    watch["huggingface"] = {"authors": names, "include": include}
    watch["github"] = {"orgs": names, "include": include}
    path = db.with_suffix(".yaml")
    path.write_text(yaml.safe_dump(cfg))
    return path


def cycle(config_path: Path):
    from watcher import config as config_mod
    from watcher.pipeline import run_cycle
    from watcher.store.db import open_engine

    config = config_mod.load(str(config_path))
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the console alerts
        return run_cycle(config, open_engine(config.database))


def steady(hub, github, tmp: Path, owners: int, patterns: int) -> tuple[int, int, int, int]:
    """Two warm-up cycles, then one measured: (hub requests, github requests, github 304s, github 200s)."""
    path = watch_config(hub, github, tmp / f"o{owners}-p{patterns}.db", owners, patterns)
    cycle(path)
    cycle(path)
    hub.reset_requests(), github.reset_requests()
    github.statuses.clear()
    cycle(path)
    return len(hub.requests), len(github.requests), github.statuses.count(304), len(github.statuses)


def figure_1_2(hub, github, tmp: Path) -> None:
    print("1. Requests per steady-state cycle (Hub + GitHub)")
    for patterns in (1, 10, 100):
        h, g, _, _ = steady(hub, github, tmp, 1, patterns)
        print(f"   1 author, {patterns:>3} pattern(s): {h + g:>4} ({h} Hub + {g} GitHub)")
    share = []
    for owners in (1, 10, 50):
        h, g, n304, total = steady(hub, github, tmp, owners, 1)
        share.append((owners, n304, total))
        print(f"   {owners:>2} author(s)+org(s), 1 pattern: {h + g:>4} ({h} Hub + {g} GitHub)")
    print("2. Share of GitHub answers that are 304 in steady state")
    for owners, n304, total in share:
        print(f"   {owners:>2} org(s): {n304}/{total} = {100 * n304 / max(total, 1):.0f}%")
    default = tmp / "default.yaml"
    default.write_text(yaml.safe_dump(base_config(hub.url, github.url, tmp / "default.db")))
    github.add_repo("QwenLM/Qwen3.7-Coder")
    cycle(default), cycle(default)
    github.statuses.clear()
    cycle(default)
    n304, total = github.statuses.count(304), len(github.statuses)
    print(f"   shipped Qwen watch (its named repo QwenLM/Qwen3.7 is hidden: a 404 each cycle): "
          f"{n304}/{total} = {100 * n304 / max(total, 1):.0f}%")


def naive_poll(hub_url: str, gh_url: str, repos: list[tuple[str, str]]) -> float:
    """What a simple script does: one request per Hub repo, repo + releases + tags per GitHub repo, in turn."""
    session = requests.Session()
    start = time.perf_counter()
    for source, repo in repos:
        if source == "hf":
            session.get(f"{hub_url}/api/models/{repo}")
        else:
            for suffix in ("", "/releases", "/tags"):
                session.get(f"{gh_url}/repos/{repo}{suffix}")
    return time.perf_counter() - start


def figure_3(hub, github, tmp: Path, sample: int) -> Path:
    print("3. Cycle wall time, 1,000 watched repos over 50 authors/orgs, 100 ms per request")
    path = watch_config(hub, github, tmp / "scale.db", OWNERS, 1)
    hub.latency = github.latency = 0.1
    t = time.perf_counter()
    cycle(path)
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        cycle(path)
        times.append(time.perf_counter() - t)
    project = statistics.median(times)
    repos = [("hf", f"Lab{o}/Qwen3.7-{r}B") for o in range(OWNERS) for r in range(PER_OWNER)]
    repos += [("gh", f"Lab{o}/Qwen3.7-{r}") for o in range(OWNERS) for r in range(PER_OWNER)]
    picked = repos[:: max(1, len(repos) // sample)][:sample]
    measured = naive_poll(hub.url, github.url, picked)
    naive = measured * len(repos) / len(picked)
    hub.latency = github.latency = 0.0
    print(f"   watcher, steady state (median of 3): {project:.2f} s   (first cycle, baseline with sizes and "
          f"releases: {first:.1f} s)")
    print(f"   naive sequential per-repo poll: {naive:.0f} s   (measured {measured:.1f} s on {len(picked)} of "
          f"{len(repos)} repos, scaled linearly)")
    print(f"   speed-up: {naive / project:.0f}x")
    return path


def _wall(cmd: list[str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def figure_4(config_path: Path, small_path: Path) -> None:
    print("4. `watcher status` wall time (median of 7) and what it imports")
    env_cmd = [PY, "-m", "watcher", "--config", str(config_path), "status"]
    small = [PY, "-m", "watcher", "--config", str(small_path), "status"]
    base = _wall([PY, "-c", "pass"])
    print(f"   python -c pass: {base:.3f} s")
    print(f"   watcher status, shipped Qwen watch: {_wall(small):.3f} s (table), "
          f"{_wall(small + ['--json']):.3f} s (--json)")
    print(f"   watcher status, 1,000 repos:        {_wall(env_cmd):.3f} s (table), "
          f"{_wall(env_cmd + ['--json']):.3f} s (--json)")
    out = subprocess.run([PY, "-X", "importtime", *env_cmd[1:]], capture_output=True, text=True, check=True)
    loaded = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines() if "|" in line}
    found = [m for m in HEAVY if m in loaded]
    print(f"   python -X importtime: {len(loaded)} top-level packages imported; of {', '.join(HEAVY)}: "
          f"{', '.join(found) if found else 'none'}")


DAEMON = """
import sys, yaml
from watcher import config as config_mod
from watcher.daemon import cycle_job
from watcher.pipeline import utcnow
from watcher.store.db import open_engine
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
config = config_mod.load(sys.argv[1]); engine = open_engine(config.database)
for i in range(1, int(sys.argv[2]) + 1):
    cycle_job(config, engine, utcnow)
    if i == 10 or i == int(sys.argv[2]):
        print("RSS", i, round(rss(), 1), file=sys.stderr, flush=True)
"""


def figure_5(hub, github, tmp: Path, cycles: int) -> None:
    print("5. Daemon RSS (the daemon's cycle job, back to back, shipped Qwen watch, no latency)")
    path = tmp / "daemon.yaml"
    path.write_text(yaml.safe_dump(base_config(hub.url, github.url, tmp / "daemon.db")))
    t = time.perf_counter()
    out = subprocess.run([PY, "-c", DAEMON, str(path), str(cycles)], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    took = time.perf_counter() - t
    points = [tuple(map(float, line.split()[1:])) for line in out.stderr.splitlines() if line.startswith("RSS ")]
    (_, first), (_, last) = points[0], points[-1]
    growth = 100 * (last - first) / first
    print(f"   after 10 cycles: {first:.1f} MB; after {cycles}: {last:.1f} MB; growth {growth:+.1f}%"
          f"   ({took / cycles * 1000:.0f} ms per cycle)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller naive sample and 100 daemon cycles")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU(s), Python {sys.version.split()[0]}, {sys.platform}")
    with FakeHub() as hub, CountingGitHub() as github, tempfile.TemporaryDirectory() as tmp_name:
        github.events_poll_interval = 0
        tmp = Path(tmp_name)
        build_world(hub, github)
        figure_1_2(hub, github, tmp)
        scale = figure_3(hub, github, tmp, 20 if args.quick else 60)
        figure_4(scale, tmp / "default.yaml")
        figure_5(hub, github, tmp, 100 if args.quick else 1000)


if __name__ == "__main__":
    main()
