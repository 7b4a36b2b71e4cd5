"""The fault matrix of issue 8: for each fault, how many alerts were expected, delivered, lost and sent twice.

    .venv/bin/python bench/faults.py            # 200 SIGKILLs; about 13 minutes on 2 cores
    .venv/bin/python bench/faults.py --quick    # 30 SIGKILLs; about 3 minutes

Alerts are counted in FakeSlack the way people in the channel would see them: one line of one message
per alert ("- Weights published: Qwen/Qwen3.7-1B"); `lost` is an expected line that never arrived,
`doubled` a line that arrived more than once. Source and Slack faults run the real pipeline in-process
(a clock moving 15 minutes a cycle, Slack waits counted, not slept); process faults run the real CLI
as child processes (`watcher poll`, `watcher run`) that are killed, stopped, starved of disk or locked
out. "status" says whether `watcher status` named the problem while it lasted (or right after, for the
database faults, which cannot be written down while they last).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.update({"NO_PROXY": "*", "HF_HOME": tempfile.mkdtemp(prefix="bench-hf-")})
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "HF_TOKEN", "GITHUB_TOKEN", "SLACK_BOT_TOKEN",
             "SLACK_WEBHOOK_URL", "WATCHER_DATABASE_URL", "HF_ENDPOINT", "WATCHER_CONFIG", "WATCHER_NOW"):
    os.environ.pop(_var, None)

from daemon_proc import wait_for  # noqa: E402
from fakes import FakeGitHub, FakeHub, FakeSlack  # noqa: E402
from fakes.server import Response  # noqa: E402
from faultkit import Rig, Sim, Tally, Timeline, kill_runs, weights  # noqa: E402
from test_faults import hang, looping  # noqa: E402

BIG = 10**6
PUBLIC = ("GitHub repo is now public", "QwenLM/Qwen3.7")


def fakes():
    return FakeHub().start(), FakeGitHub().start(), FakeSlack().start()


def stop(*servers):
    for server in servers:
        server.stop()


def status_names(sim: Sim, source: str) -> bool:
    """`watcher status` (the same document as --json) mentions the failing API or Slack's error."""
    from watcher.engine import status

    doc = status.build(sim.config, sim.engine, sim.now)
    if source == "slack":
        return any(item.get("last_error") for item in doc["undelivered"])
    errors = (doc["last_poll"] or {}).get("errors") or []
    return any(e.startswith(source) for e in errors) or bool(doc["rate_limits"].get(source, {}).get("blocked_until"))


# -- source faults: (name, apply(fake), words status shows, whole source fails -> failing/recovered alerts)
def refused(fake):
    fake.stop()


SOURCE_FAULTS = [
    ("HTTP 500", lambda f: f.fail_next(BIG, status=500), "500", True),
    ("HTTP 502", lambda f: f.fail_next(BIG, status=502), "502", True),
    ("HTTP 503", lambda f: f.fail_next(BIG, status=503), "503", True),
    ("hung connection (timeout)", lambda f: f.inject(BIG, hang(1.5)), "timed out", True),
    ("connection refused", refused, "connect", True),
    ("429 Retry-After 2s (beyond the 0s cap)", lambda f: f.fail_next(BIG, status=429, headers={"Retry-After": "2"}),
     "429", False),  # a rate limit pauses the API (work deferred), it is not a failing source
    ("malformed JSON", lambda f: f.inject(BIG, lambda r: Response(200, '{"id": "Qwen/Qw')), "json", True),
    ("valid JSON, wrong shape", lambda f: f.inject(BIG, lambda r: Response(200, {"unexpected": [1]})), "", True),
    ("truncated body", lambda f: f.inject(BIG, lambda r: Response(200, [{"id": "Qwen/Qwen3.7-1B"}] * 50,
                                                                  truncate_to=40)), "", True),
    ("pagination loop", lambda f: f.inject(BIG, looping), "pag", True),
]


def source_case(source: str, name: str, apply, words: str, whole: bool, cycles: int) -> Tally:
    hub, github, slack = fakes()
    tally = Tally(f"{source}: {name}", runs=1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sim = Sim(Path(tmp), hub, github, slack, timeout="0.5s")
            sim()
            hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
            github.add_repo("QwenLM/Qwen3.7")
            fake = hub if source == "huggingface" else github
            apply(fake)
            sim(cycles)
            named = status_names(sim, source)
            fake.clear_faults()
            fake.start()
            for _ in range(6):  # rate-limit pauses are wall-clock time: let the 2 s pass
                sim()
                time.sleep(0.5 if "Retry-After" in name else 0)
            expected = {("Watching started", "0"), weights("Qwen/Qwen3.7-1B"), PUBLIC}
            if whole and cycles >= 3:
                expected |= {("Source failing", source), ("Source recovered", source)}
            tally.add(expected, sim.seen())
            tally.notes.append("status: yes" if named else "status: NO")
    finally:
        stop(hub, github, slack)
    return tally


def special_source_cases() -> list[Tally]:
    """GitHub's secondary limit, and repos listed but 404 on detail (Hub tree, GitHub releases)."""
    out = []
    for name, source, apply, words in (
        ("403 secondary rate limit, Retry-After 2s", "github", lambda f: f.secondary_limit_next(BIG, retry_after=2),
         "secondary"),
        ("listed, 404 on detail (file sizes)", "huggingface",
         lambda f: f.fail_next(BIG, status=404, body={"error": "Entry not found"}, path_contains="/tree/"), "404"),
        ("listed, 404 on detail (releases)", "github",
         lambda f: f.fail_next(BIG, status=404, body={"message": "Not Found"}, path_contains="/releases"), "404"),
    ):
        out.append(source_case(source, name, apply, words, whole=False, cycles=4))
    return out


# -- Slack faults: a new repo lands every cycle while Slack misbehaves
def slack_case(name: str, apply, words: str, cycles: int, fix=None, **cfg) -> Tally:
    hub, github, slack = fakes()
    tally = Tally(f"slack: {name}", runs=1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sim = Sim(Path(tmp), hub, github, slack, **cfg)
            sim()
            expected = {("Watching started", "0")}
            apply(slack)
            for i in range(cycles):
                if i % max(1, cycles // 10) == 0:
                    repo = f"Qwen/Qwen3.7-{i + 1}B"
                    hub.add_model(repo, {"model.safetensors": 1})
                    expected.add(weights(repo))
                sim()
            named = status_names(sim, "slack")
            slack.clear_faults()
            slack.latency = 0
            slack.start()
            if fix:
                fix(sim)
            sim(3)
            tally.add(expected, sim.seen())
            tally.notes.append("status: yes" if named else "status: NO")
    finally:
        stop(hub, github, slack)
    return tally


def slack_cases(outage: int) -> list[Tally]:
    return [
        slack_case("HTTP 500/503", lambda s: s.fail_next(BIG, status=503), "unavailable", 5),
        slack_case("429 Retry-After 120s (beyond the cap)", lambda s: s.rate_limit_next(BIG, retry_after=120),
                   "rate limited", 5),
        slack_case("timeout (posted, answer too late)", lambda s: setattr(s, "latency", 0.5), "timeout", 3),
        slack_case("ok:false internal_error", lambda s: s.error_next(BIG, "internal_error", "chat.postMessage"),
                   "internal_error", 5),
        slack_case("ok:false not_in_channel, then notify retry",
                   lambda s: s.error_next(BIG, "not_in_channel", "chat.postMessage"), "not_in_channel", 3,
                   fix=lambda sim: sim.requeue_failed()),
        slack_case(f"outage, {outage} cycles (connection refused)", lambda s: s.stop(), "connect", outage),
    ]


# -- process faults: the real CLI as child processes
def rig_case(name: str, runs: int, body) -> Tally:
    hub, github, slack = fakes()
    tally = Tally(name, runs=runs)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rig = Rig(Path(tmp), hub, github, slack)
            timeline = Timeline(hub)
            body(rig, timeline, runs, tally)
            tally.add(timeline.expected, rig.seen())
    finally:
        stop(hub, github, slack)
    return tally


def sigkill(rig, timeline, runs, tally):
    for fake in (rig.hub, rig.github, rig.slack):
        fake.latency = 0.03
    started = time.monotonic()
    where, _ = kill_runs(rig, timeline, runs, seed=2026, log=lambda line: print("  " + line, end="\r", flush=True))
    tally.notes.append("; ".join(f"{k}: {n}" for k, n in where.most_common()))
    tally.notes.append(f"{(time.monotonic() - started) / runs:.1f}s a run")
    print()


def kill_after_ok(rig, timeline, runs, tally):
    assert rig.cli("poll").returncode == 0
    for _ in range(runs):
        timeline.advance()
        target = f"Weights published: Qwen/Qwen3.7-{timeline.step}B"
        state = {"pid": None}

        def hook(message, state=state, target=target):
            if state["pid"] and target in message["text"]:
                os.kill(state["pid"], signal.SIGKILL)
                state["pid"] = None
        rig.slack.after_post = hook
        proc = rig.spawn("poll")
        state["pid"] = proc.pid
        proc.communicate()
        rig.slack.after_post = None
        assert rig.cli("poll").returncode == 0
    tally.notes.append("kill right after Slack stored the post, before our commit")


def sigterm(rig, timeline, runs, tally):
    rng = random.Random(7)
    for fake in (rig.hub, rig.github, rig.slack):
        fake.latency = 0.05
    rig.config["schedule"]["poll_interval"] = "1h"
    rig.save()
    assert rig.cli("poll").returncode == 0
    timeline.advance()
    base = rig.traffic()
    assert rig.cli("poll").returncode == 0
    per_cycle = rig.traffic() - base
    partial = bad_exit = 0
    for _ in range(runs):
        timeline.advance()
        base, target = rig.traffic(), rng.randint(1, per_cycle)
        proc = rig.spawn("run")
        wait_for(lambda: rig.traffic() >= base + target or proc.poll() is not None, timeout=60, step=0.002)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        bad_exit += proc.returncode != 0
        partial += rig.sql("select count(*) from poll_runs where finished_at is null")[0][0]
        assert rig.cli("poll").returncode == 0
    tally.notes.append(f"exit 0: {runs - bad_exit}/{runs}; half-stored cycles: {partial}")


def disk_full_poll(rig, timeline, runs, tally):
    assert rig.cli("poll").returncode == 0
    lines = set()

    def full():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, resource.RLIM_INFINITY))
    for _ in range(runs):
        timeline.advance()
        result = rig.cli("poll", preexec=full)
        lines.add((result.returncode, result.stderr.strip().split(": ", 2)[-1]))
        assert rig.cli("poll").returncode == 0
    tally.notes.append("; ".join(f"exit {code}: {line}" for code, line in sorted(lines)))


def read_only(rig, timeline, runs, tally):
    assert rig.cli("poll").returncode == 0
    outcomes = set()
    for _ in range(runs):
        timeline.advance()
        uri = f"file:{rig.db}?mode=ro&uri=true"
        rig.config["database"] = f"sqlite:///{uri}"
        rig.save()
        result = rig.cli("poll")
        outcomes.add((result.returncode, result.stderr.strip().split(": ", 2)[-1][:120]))
        rig.config["database"] = f"sqlite:///{rig.db}"
        rig.save()
        assert rig.cli("poll").returncode == 0
    tally.notes.append("; ".join(f"exit {code}: {line}" for code, line in sorted(outcomes)))


def locked_poll(rig, timeline, runs, tally):
    rig.config["database"] += "?timeout=0.2"
    rig.save()
    assert rig.cli("poll").returncode == 0
    for _ in range(runs):
        timeline.advance()
        blocker = sqlite3.connect(rig.db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        result = rig.cli("poll")
        blocker.execute("ROLLBACK")
        blocker.close()
        assert result.returncode == 1 and "database is locked" in result.stderr, result.stderr
        assert rig.cli("poll").returncode == 0
    tally.notes.append("exit 1, one line: cycle not stored: database is locked (...)")


def daemon_outage(kind: str):
    """The daemon keeps running through a full disk or another process's write lock, then catches up."""
    def body(rig, timeline, runs, tally):
        if kind == "locked":
            rig.config["database"] += "?timeout=0.2"
            rig.save()
        preexec = (lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN)) if kind == "disk" else None
        proc = rig.spawn("run", preexec=preexec)
        errors, named, alive = 0, False, True
        try:
            for _ in range(runs):
                wait_for(lambda: _finished(rig) >= 1)
                blocker = None
                if kind == "disk":
                    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))
                else:
                    blocker = sqlite3.connect(rig.db, isolation_level=None)
                    blocker.execute("BEGIN EXCLUSIVE")
                timeline.advance()
                seen = rig.hub.requests.__len__()
                wait_for(lambda: len(rig.hub.requests) >= seen + 6)
                alive = alive and proc.poll() is None
                if blocker is not None:
                    blocker.execute("ROLLBACK")
                    blocker.close()
                else:
                    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)
                repo = f"Qwen/Qwen3.7-{timeline.step}B"
                wait_for(lambda: rig.seen().get(weights(repo)))
                named = wait_for(lambda: "not stored since" in rig.cli("status").stdout, timeout=20)
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        errors = sum(" ERROR " in line for line in out.splitlines())
        tally.notes.append(f"daemon alive: {'yes' if alive else 'NO'}; exit {proc.returncode}; {errors} one-line "
                           f"errors, {out.count('Traceback')} tracebacks; status: {'yes' if named else 'NO'}")
    return body


def _finished(rig) -> int:
    try:
        return rig.sql("select count(*) from poll_runs where finished_at is not null")[0][0]
    except sqlite3.OperationalError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 kills instead of 200, a 30-cycle outage")
    parser.add_argument("--kills", type=int, default=None)
    parser.add_argument("--only", default="", help="run only cases whose name contains one of A|B|C")
    args = parser.parse_args()
    kills = args.kills or (30 if args.quick else 200)
    outage = 30 if args.quick else 100
    rows: list[Tally] = []

    def want(name: str) -> bool:
        return not args.only or any(word in name for word in args.only.split("|"))

    def run(make):
        started = time.monotonic()
        made = make()
        for tally in made if isinstance(made, list) else [made]:
            tally.notes.append(f"{time.monotonic() - started:.0f}s")
            print(tally.row(), "; ".join(tally.notes), flush=True)
            rows.append(tally)

    print("| case | runs | alerts expected | delivered | lost | doubled |  notes")
    for source in ("huggingface", "github"):
        for name, apply, words, whole in SOURCE_FAULTS:
            if want(f"{source}: {name}"):
                run(lambda: source_case(source, name, apply, words, whole, cycles=4))
    if want("huggingface: listed github: 403"):
        run(special_source_cases)
    if want("slack:"):
        run(lambda: slack_cases(outage))
    for name, runs, body in (
        ("process: SIGKILL at a random point of `watcher poll`", kills, sigkill),
        ("process: SIGKILL after Slack accepted, before our commit", 10, kill_after_ok),
        ("process: SIGTERM mid-cycle (`watcher run`)", 10, sigterm),
        ("process: disk full (`watcher poll`, RLIMIT_FSIZE)", 5, disk_full_poll),
        ("process: disk full under the daemon (RLIMIT_FSIZE via prlimit)", 2, daemon_outage("disk")),
        ("process: read-only database file", 3, read_only),
        ("process: database locked by another process (`watcher poll`)", 3, locked_poll),
        ("process: database locked by another process (daemon)", 2, daemon_outage("locked")),
    ):
        if want(name):
            run(lambda: rig_case(name, runs, body))
    total = Tally("total", runs=sum(r.runs for r in rows), expected=sum(r.expected for r in rows),
                  delivered=sum(r.delivered for r in rows), lost=sum(r.lost for r in rows),
                  doubled=sum(r.doubled for r in rows))
    print("\n| case | runs | alerts expected | delivered | lost | doubled |\n|---|---|---|---|---|---|")
    for row in rows + [total]:
        print(row.row())
    print(f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}")


if __name__ == "__main__":
    main()
