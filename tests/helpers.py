"""Test helpers shared by conftest and scripts: the watch config pointed at the fakes."""

from __future__ import annotations

from pathlib import Path


def base_config(hub_url: str, github_url: str, db_path: Path, slack_url: str | None = None) -> dict:
    """The shipped Qwen 3.7 watch, pointed at the fakes, with retries that never sleep."""
    cfg = {
        "database": f"sqlite:///{db_path}",
        "huggingface": {"endpoint": hub_url, "timeout": "5s", "retries": 1, "max_retry_wait": "0s"},
        "github": {"api_url": github_url, "timeout": "5s", "retries": 1, "max_retry_wait": "0s"},
        "schedule": {"poll_interval": "15m"},
        "watches": [
            {
                "name": "qwen3.7",
                "title": "Qwen 3.7 open-weight variants",
                "flagship": {"name": "Qwen3.7-Max", "released": "2026-05-20"},
                "lag_days": {"min": 51, "max": 59},
                "huggingface": {"authors": ["Qwen"], "include": ["Qwen3.7-*"], "exclude": ["*Max*"],
                                "repos": ["Qwen/Qwen3.7-Plus"]},
                "github": {"repos": ["QwenLM/Qwen3.7"], "orgs": ["QwenLM"], "include": ["Qwen3.7*"]},
            }
        ],
    }
    if slack_url:
        cfg["slack"] = {"channel": "#open-weights", "api_url": slack_url + "/api/", "timeout": "5s"}
    return cfg
