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
        log = logging.getLogger("watcher.pipeline")
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
    assert first["ts"].endswith("Z") and first["logger"] == "watcher.pipeline"
    assert second == {**second, "watch": "qwen3.7", "repo": "Qwen/Qwen3.7-27B", "run_id": 4, "msg": "cycle done"}
    assert third["job"] == "poll" and "ValueError: boom" in third["exc"]
    assert "ghp_supersecret123456" not in json.dumps(lines)


def test_text_lines_fold_tracebacks(capture):
    lines = capture("text")
    assert len(lines) == 3
    assert " WARNING watcher.pipeline: watch=qwen3.7 github QwenLM/Qwen3.7" in lines[0]
    assert lines[0].endswith("repo=QwenLM/Qwen3.7")
    assert lines[1].endswith("cycle done watch=qwen3.7 repo=Qwen/Qwen3.7-27B run_id=4")
    assert "Traceback" in lines[2] and " | " in lines[2] and "second line" in lines[2]
    assert "ghp_supersecret123456" not in "\n".join(lines)


def test_bad_log_format_is_a_config_error(watcher):
    result = watcher("run", "--log-format", "xml")
    assert result.exit_code == 2 and "--log-format" in result.stderr and "'text', 'json'" in result.stderr
