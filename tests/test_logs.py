"""Log lines: one per event, JSON or text, watch and repo as fields, never a token."""

from __future__ import annotations

import io
import json
import logging

import pytest

from watcher import logs


@pytest.fixture
def capture(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_supersecret123456")
    stream = io.StringIO()

    def emit(fmt):
        logs.setup(fmt, "INFO", stream)
        log = logging.getLogger("watcher.engine.pipeline")
        log.warning("watch=qwen3.7 github QwenLM/Qwen3.7: 401 Bad credentials (token ghp_supersecret123456)")
        log.info("cycle done", extra={"watch": "qwen3.7", "repo": "Qwen/Qwen3.7-27B", "run_id": 4})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("job poll failed", extra={"job": "poll"})
        logging.getLogger().handlers[:] = []
        return stream.getvalue().splitlines()

    return emit


def test_json_lines(capture):
    lines = [json.loads(line) for line in capture("json")]
    assert len(lines) == 3
    first, second, third = lines
    assert first["level"] == "warning" and first["watch"] == "qwen3.7" and first["repo"] == "QwenLM/Qwen3.7"
    assert first["ts"].endswith("Z") and first["logger"] == "watcher.engine.pipeline"
    assert second == {**second, "watch": "qwen3.7", "repo": "Qwen/Qwen3.7-27B", "run_id": 4, "msg": "cycle done"}
    assert third["job"] == "poll" and "ValueError: boom" in third["exc"]
    assert "ghp_supersecret123456" not in json.dumps(lines)


def test_text_lines_fold_tracebacks(capture):
    lines = capture("text")
    assert len(lines) == 3
    assert " WARNING watcher.engine.pipeline: watch=qwen3.7 github QwenLM/Qwen3.7" in lines[0]
    assert lines[0].endswith("repo=QwenLM/Qwen3.7")
    assert lines[1].endswith("cycle done watch=qwen3.7 repo=Qwen/Qwen3.7-27B run_id=4")
    assert "Traceback" in lines[2] and " | " in lines[2] and "second line" in lines[2]
    assert "ghp_supersecret123456" not in "\n".join(lines)


def test_bad_log_format_is_a_config_error(watcher):
    result = watcher("run", "--log-format", "xml")
    assert result.exit_code == 2 and "--log-format" in result.stderr and "'text', 'json'" in result.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:  # bound and closed again: nothing listens there, connections are refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _offline(watcher, *args):
    dead = f"http://127.0.0.1:{_closed_port()}"
    for source, key in (("huggingface", "endpoint"), ("github", "api_url")):
        watcher.config[source].update({key: dead, "retries": 2, "max_retry_wait": "0s"})
    result = watcher(*args)
    assert result.exit_code == 0, result.output
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_a_failing_cycle_is_one_plain_line_per_source_and_retries_show_at_info(watcher):
    lines = _offline(watcher, "poll", "-v")
    warnings = [line for line in lines if " WARNING " in line]
    assert len(warnings) == 2, lines  # one per source, not one per request or per error
    assert any("watcher.engine.source_health: huggingface: 127.0.0.1 refused the connection, 3 tries (" in w
               for w in warnings), warnings
    assert any("watcher.engine.source_health: github: 127.0.0.1 refused the connection, 3 tries (" in w
               for w in warnings), warnings
    retries = [line for line in lines if ": try " in line and " INFO " in line]
    assert any("try 1 of 3 failed (127.0.0.1 refused the connection)" in line for line in retries), lines
    assert not [line for line in lines if "Retrying (" in line or "expand=" in line or " DEBUG " in line]


def test_the_details_are_at_debug_level(watcher):
    lines = _offline(watcher, "poll", "--log-level", "debug")
    debug = "\n".join(line for line in lines if " DEBUG " in line)
    assert "expand=" in debug  # the pipeline's full error, URL included
    assert "Retrying (" in debug or "Connection refused" in debug  # the HTTP library's own account


def test_poll_is_quiet_by_default(watcher):
    assert _offline(watcher, "poll") == []  # the summary on stdout lists the errors; stderr stays empty


def test_poll_summary_lists_each_error_without_query_strings(watcher):
    dead = f"http://127.0.0.1:{_closed_port()}"
    watcher.config["huggingface"].update({"endpoint": dead, "max_retry_wait": "0s"})
    result = watcher("poll")
    errors = [line for line in result.stdout.splitlines() if line.startswith("  error: huggingface author Qwen")]
    assert errors and f"{dead}/api/models?...: ConnectError" in errors[0] and "expand=" not in result.stdout
