"""What bench/poll.py runs in child processes, each timed on its own (one subcommand per child).

    python bench/drivers.py cycles CONFIG N      # N cycles in one process: seconds, CPU, WAL bytes each
    python bench/drivers.py script HUB AUTHOR..  # the plain script: HfApi.list_models per author, in turn
    python bench/drivers.py daemon CONFIG N      # N poll jobs through the daemon's own scheduler: RSS

Every subcommand prints JSON lines on stdout.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time


def cycles(config_path: str, n: int) -> None:
    """Each cycle's in-cycle seconds, process CPU seconds, and the bytes it appended to SQLite's WAL.

    The WAL is checkpointed and truncated before each cycle, so its size afterwards is exactly the
    frames the cycle wrote: (page size + 24 bytes) per page written, plus a 32-byte header.
    """
    from watcher import config as config_mod
    from watcher.engine.pipeline import run_cycle
    from watcher.store.schema import open_current

    config = config_mod.load(config_path)
    engine = open_current(config.database)
    wal = engine.url.database + "-wal"
    for _ in range(n):
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        cpu = time.process_time()
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):  # the console alerts
            result = run_cycle(config, engine)
        written = os.path.getsize(wal) if os.path.exists(wal) else 0
        print(json.dumps({"seconds": result.seconds, "cpu": time.process_time() - cpu, "wal_bytes": written,
                          "requests": sum(result.requests.values()), "events": len(result.events),
                          "errors": result.errors[:3]}), flush=True)


def script(hub: str, authors: list[str]) -> None:
    """What someone would write without the watcher: every author's full listing, one after another."""
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub, token=False)
    start = time.perf_counter()
    models = sum(len(list(api.list_models(author=a, full=True))) for a in authors)
    print(json.dumps({"seconds": time.perf_counter() - start, "models": models}), flush=True)


def daemon(config_path: str, n: int) -> None:
    """The daemon's poll job, run N times by its APScheduler (re-armed as soon as one ends): RSS at 10 and N."""
    import threading

    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    from watcher import config as config_mod
    from watcher.daemon import scheduler as daemon_mod
    from watcher.store.schema import open_current

    config = config_mod.load(config_path)
    runner = daemon_mod.Daemon(config, open_current(config.database))
    done, finished, out = [0], threading.Event(), sys.stdout
    start = time.perf_counter()

    def rearm(event) -> None:
        if event.job_id != "poll":
            return
        done[0] += 1
        if done[0] in (10, n):
            print(json.dumps({"cycles": done[0], "rss_mb": _rss_mb(), "seconds": time.perf_counter() - start}),
                  file=out, flush=True)
        if done[0] >= n:
            finished.set()
        else:
            runner.scheduler.modify_job("poll", next_run_time=dt_now())

    runner.scheduler.add_listener(rearm, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        runner.scheduler.start()
        finished.wait()
        runner.scheduler.shutdown(wait=True)
    runner.leadership.release()


def dt_now():
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "cycles":
        cycles(args[0], int(args[1]))
    elif command == "script":
        script(args[0], args[1:])
    elif command == "daemon":
        daemon(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
