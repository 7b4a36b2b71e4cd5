"""Process faults against the real CLI: SIGKILL anywhere in a cycle, a kill between Slack's `ok` and our
commit, SIGTERM during delivery, a full disk and a database locked by another process. Each ends with
the alerts counted in FakeSlack: every expected one there, none twice. bench/faults.py runs the same
with 200 kills and prints the whole matrix."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import sys

import pytest
from daemon_proc import wait_for
from faultkit import Rig, Tally, Timeline, kill_runs, placeholder, weights

LINUX = sys.platform.startswith("linux")
pytestmark = pytest.mark.slow  # real processes, kills and timelines: .ci/run runs them


@pytest.fixture
def rig(hub, github, slack, tmp_path):
    return Rig(tmp_path, hub, github, slack)


def assert_each_once(rig: Rig, expected: set) -> None:
    seen = rig.seen()
    tally = Tally("check").add(expected, seen)
    assert (tally.lost, tally.doubled) == (0, 0), (sorted(expected - set(seen)), [k for k, n in seen.items() if n > 1])


def finished_runs(rig: Rig) -> int:
    try:
        return rig.sql("select count(*) from poll_runs where finished_at is not null")[0][0]
    except sqlite3.OperationalError:  # the daemon is still creating the schema
        return 0


def test_sigkill_at_random_points_loses_and_doubles_nothing(rig):
    for fake in (rig.hub, rig.github, rig.slack):
        fake.latency = 0.03  # a cycle takes long enough for kills to land inside it
    timeline = Timeline(rig.hub)
    where, unkilled = kill_runs(rig, timeline, runs=12, seed=8)
    assert sum(where.values()) - unkilled == 12
    assert len([k for k in where if k != "finished before the kill"]) >= 2, where  # kills landed in different phases
    assert_each_once(rig, timeline.expected)
    assert rig.sql("select count(*) from deliveries where status != 'delivered'") == [(0,)]


def _kill_when_posted(rig: Rig, text: str) -> dict:
    """FakeSlack stores the message, then the process dies before it hears `ok`."""
    state: dict = {"pid": None, "killed": False}

    def hook(message):
        if state["pid"] and not state["killed"] and text in message["text"]:
            os.kill(state["pid"], signal.SIGKILL)
            state["killed"] = True
    rig.slack.after_post = hook
    return state


def _poll_killed(rig: Rig, state: dict) -> None:
    proc = rig.spawn("poll")
    state["pid"] = proc.pid
    proc.communicate(timeout=60)
    assert state["killed"] and proc.returncode == -signal.SIGKILL


def test_kill_after_slack_accepted_the_first_message_is_not_posted_again(rig):
    """The very first post: no channel ID known yet, so the retry looks it up (conversations.list)."""
    state = _kill_when_posted(rig, "Watching started")
    _poll_killed(rig, state)
    assert len(rig.slack.messages) == 1
    pending = rig.sql("select status, attempts from deliveries")
    assert pending == [("pending", 1)]  # the attempt was recorded before posting
    result = rig.cli("poll")
    assert result.returncode == 0 and "alerts delivered 1" in result.stdout, result.stdout + result.stderr
    assert len(rig.slack.messages) == 1  # found in the history, not posted again
    assert rig.slack.requests_to("conversations.list") and rig.slack.requests_to("conversations.history")
    assert rig.sql("select status from deliveries") == [("delivered",)]


def test_kill_after_slack_accepted_a_thread_reply_is_not_posted_again(rig):
    timeline = Timeline(rig.hub)
    assert rig.cli("poll").returncode == 0
    for _ in range(4):  # step 4 announces a placeholder
        timeline.advance()
    assert rig.cli("poll").returncode == 0
    timeline.advance()  # its weights land: a reply in the placeholder's thread
    state = _kill_when_posted(rig, "Weights published: Qwen/Qwen3.7-P4")
    _poll_killed(rig, state)
    assert rig.cli("poll").returncode == 0
    assert_each_once(rig, timeline.expected)
    reply = next(m for m in rig.slack.messages if "Weights published: Qwen/Qwen3.7-P4" in m["text"])
    parent = next(m for m in rig.slack.messages if "Qwen/Qwen3.7-P4" in m["text"] and not m["thread_ts"])
    assert reply["thread_ts"] == parent["ts"] and placeholder("Qwen/Qwen3.7-P4") in timeline.expected


def test_sigterm_during_delivery_exits_0_and_the_alert_goes_out_once(rig):
    timeline = Timeline(rig.hub)
    rig.config["schedule"]["poll_interval"] = "1h"
    rig.save()
    assert rig.cli("poll").returncode == 0
    timeline.advance()
    rig.slack.latency = 0.5  # the signal arrives while chat.postMessage is in flight
    posts = len(rig.slack.requests_to("chat.postMessage"))
    proc = rig.spawn("run")
    wait_for(lambda: len(rig.slack.requests_to("chat.postMessage")) > posts)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "received SIGTERM" in out and "Traceback" not in out + err
    rig.slack.latency = 0
    assert rig.cli("poll").returncode == 0
    assert_each_once(rig, timeline.expected)


def _ignore_sigxfsz():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over the limit fails (EFBIG) instead of killing


def test_full_disk_fails_the_poll_in_one_line_and_loses_nothing(rig):
    timeline = Timeline(rig.hub)
    assert rig.cli("poll").returncode == 0
    timeline.advance()

    def full():
        _ignore_sigxfsz()
        resource.setrlimit(resource.RLIMIT_FSIZE, (40_000, resource.RLIM_INFINITY))

    result = rig.cli("poll", preexec=full)
    assert result.returncode in (1, 2) and "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("watcher: database sqlite:")
    assert "disk" in result.stderr
    result = rig.cli("poll")  # space is back
    assert result.returncode == 0, result.stderr
    assert_each_once(rig, timeline.expected)


@pytest.mark.skipif(not (LINUX and hasattr(resource, "prlimit")), reason="needs prlimit (Linux)")
def test_full_disk_under_the_daemon_is_one_line_per_job_then_recovers(rig):
    timeline = Timeline(rig.hub)
    proc = rig.spawn("run", preexec=_ignore_sigxfsz)
    try:
        wait_for(lambda: finished_runs(rig) >= 1)
        wait_for(lambda: rig.seen().get(("Watching started", "0")))
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))  # the disk fills up
        timeline.advance()
        requests = len(rig.hub.requests)
        wait_for(lambda: len(rig.hub.requests) >= requests + 6, timeout=90)  # a few cycles failed to store
        assert proc.poll() is None  # still running
        assert not rig.seen().get(weights("Qwen/Qwen3.7-1B"))
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        wait_for(lambda: rig.seen().get(weights("Qwen/Qwen3.7-1B")))
        status = wait_for(lambda: (r := rig.cli("status")) and "not stored since" in r.stdout and r)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    errors = [line for line in out.splitlines() if " ERROR " in line]
    # Which job meets the full disk first (poll or deliver) is up to the scheduler: each says it in one line.
    stored = [line for line in errors if "nothing stored, retried next time: disk I/O error" in line]
    stopped = [line for line in errors
               if "delivery stopped: database: disk I/O error" in line and "alerts wait in the outbox" in line]
    assert stored and len(stored) + len(stopped) == len(errors), errors
    assert "Traceback" not in out + err
    assert "job(s) not stored since" in status.stdout and "disk I/O error" in status.stdout
    assert_each_once(rig, timeline.expected)


def test_database_locked_by_another_process_daemon_keeps_running(rig):
    rig.config["database"] += "?timeout=0.2"
    rig.save()
    timeline = Timeline(rig.hub)
    proc = rig.spawn("run")
    blocker = None
    try:
        wait_for(lambda: finished_runs(rig) >= 1)
        blocker = sqlite3.connect(rig.db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        timeline.advance()
        requests = len(rig.hub.requests)
        wait_for(lambda: len(rig.hub.requests) >= requests + 6)  # cycles ran and could not store
        assert proc.poll() is None
        during = rig.cli("status", "--json")
        blocker.execute("ROLLBACK")
        blocker.close()
        blocker = None
        wait_for(lambda: rig.seen().get(weights("Qwen/Qwen3.7-1B")))
        after = wait_for(lambda: (r := rig.cli("status")) and "not stored since" in r.stdout and r)
    finally:
        if blocker is not None:
            blocker.close()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, out + err
    assert "nothing stored, retried next time: database is locked (another process holds the write lock" in out
    assert "Traceback" not in out + err
    assert during.returncode == 0  # WAL: status still reads while another process holds the write lock
    assert "database is locked" in after.stdout
    assert_each_once(rig, timeline.expected)


def test_daemon_killed_and_restarted_status_names_it_and_nothing_repeats(rig):
    timeline = Timeline(rig.hub)
    first = rig.spawn("run")
    wait_for(lambda: rig.seen().get(("Watching started", "0")))
    timeline.advance()
    wait_for(lambda: rig.seen().get(weights("Qwen/Qwen3.7-1B")))
    first.send_signal(signal.SIGKILL)
    first.communicate()
    second = rig.spawn("run")
    try:
        timeline.advance()
        wait_for(lambda: rig.seen().get(weights("Qwen/Qwen3.7-2B")))
        status = rig.cli("status", "--json")
    finally:
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=30)
    assert second.returncode == 0, out + err
    warning = next(w for w in json.loads(status.stdout)["warnings"] if w.startswith("daemon: "))
    assert f"pid {first.pid}" in warning and "without a clean stop (killed or crashed)" in warning
    assert_each_once(rig, timeline.expected)


def test_database_locked_between_slack_ok_and_our_record_sends_nothing_twice(rig):
    """The cycle is stored; the write after Slack's `ok` is refused: poll reports it, the next finds the post."""
    rig.config["database"] += "?timeout=0.2"
    rig.save()
    timeline = Timeline(rig.hub)
    assert rig.cli("poll").returncode == 0
    timeline.advance()
    blocker = sqlite3.connect(rig.db, isolation_level=None, check_same_thread=False)

    def lock(message):
        if "Qwen/Qwen3.7-1B" in message["text"]:
            blocker.execute("BEGIN EXCLUSIVE")
    rig.slack.after_post = lock
    try:
        result = rig.cli("poll")
    finally:
        rig.slack.after_post = None
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert result.returncode == 0, result.stderr
    assert "error: database: database is locked" in result.stdout and "wait in the outbox" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    again = rig.cli("poll")
    assert again.returncode == 0 and "alerts delivered 1" in again.stdout, again.stdout
    assert_each_once(rig, timeline.expected)
