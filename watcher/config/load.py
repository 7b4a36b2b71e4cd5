"""Reading config.yaml: YAML without surprises, env overrides, cross-checks, one-line errors."""

from __future__ import annotations

import datetime as dt
import os
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import ValidationError

from watcher.config.model import Config
from watcher.config.values import format_duration

DEFAULT_CONFIG_NAME = "config.yaml"

SECRET_ENV = {
    "token": "HF_TOKEN / GITHUB_TOKEN (or GH_TOKEN) / SLACK_BOT_TOKEN",
    "hf_token": "HF_TOKEN",
    "github_token": "GITHUB_TOKEN (or GH_TOKEN)",
    "bot_token": "SLACK_BOT_TOKEN",
    "webhook_url": "SLACK_WEBHOOK_URL",
    "password": "the database URL in WATCHER_DATABASE_URL",
    "secret": "WATCHER_WEBHOOK_SECRET",
}


class ConfigError(Exception):
    """A config problem, already phrased as the one line a user should see."""


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: pydantic then reports bad dates with their field path."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "function_")):
            text = str(part) if str(part).isprintable() and str(part).strip() else repr(str(part))  # one line
            out += f".{text}" if out else text
    return out or "(top level)"


def _describe(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = _field_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        key = str(first["loc"][-1])
        message = f"unknown key {key!r}"
        if key.lower() in SECRET_ENV:
            message += f" (secrets come from the environment: {SECRET_ENV[key.lower()]})"
    elif first["type"] == "missing":
        message = "required field is missing"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    variable = ENV_FIELDS.get(path)
    if variable and os.environ.get(variable):  # the value came from the environment, not from the file
        return f"{variable} (environment, overrides {source}: {path}): {message}{more}"
    return f"{source}: {path}: {message}{more}"


def resolve_path(explicit: str | None) -> Path | None:
    """--config, then WATCHER_CONFIG, then ./config.yaml; None means the embedded default."""
    if explicit:
        return Path(explicit)
    if os.environ.get("WATCHER_CONFIG"):
        return Path(os.environ["WATCHER_CONFIG"])
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.exists() else None


def parse(text: str, source: str) -> Config:
    """Parse YAML text into a Config, applying environment overrides; raise ConfigError with one line."""
    try:
        raw = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}:{where}: invalid YAML: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: (top level): expected a mapping of settings")
    raw = _apply_env(raw)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: a value is nested too deeply") from None
    check_cadences(config, source)
    check_poll_floor(config, source)
    return config.model_copy(update={"source_path": source})


def check_cadences(config: Config, source: str) -> None:
    """A watch naming a cadence that is not defined is a config error on that field. (Whether its history
    can give a window is checked where the window is computed: windows.checked, called by the CLI's loader.)"""
    for index, watch in enumerate(config.watches):
        if watch.cadence is not None and watch.cadence not in config.cadences:
            known = ", ".join(sorted(config.cadences)) or "none defined"
            raise ConfigError(f"{source}: watches[{index}].cadence: unknown cadence {watch.cadence!r} "
                              f"(cadences: {known})")


PUBLIC_API_HOSTS = {"huggingface.co", "api.github.com"}

PUBLIC_POLL_FLOOR = dt.timedelta(minutes=1)


def check_poll_floor(config: Config, source: str) -> None:
    """Polling the public Hub or GitHub more than once a minute spends their rate limits on cycles that
    are nearly all quiet, and cycles start to overlap (skipped runs pile up). Seconds come from webhooks
    (`webhooks:`), not from a shorter interval. A mirror, GitHub Enterprise or a local server may go faster."""
    public = {name for name, url in (("huggingface", config.huggingface.endpoint), ("github", config.github.api_url))
              if urlsplit(url).hostname in PUBLIC_API_HOSTS}
    for index, watch in enumerate(config.watches):
        uses = {name for name in public if getattr(watch, name) is not None}
        every = watch.poll_interval or config.schedule.poll_interval
        if uses and every < PUBLIC_POLL_FLOOR:
            field = f"watches[{index}].poll_interval" if watch.poll_interval else "schedule.poll_interval"
            raise ConfigError(f"{source}: {field}: {format_duration(every)} is below the "
                              f"{format_duration(PUBLIC_POLL_FLOOR)} floor for the public {' and '.join(sorted(uses))} "
                              "API (rate limits; for seconds use `webhooks:`)")


ENV_FIELDS = {"database": "WATCHER_DATABASE_URL", "huggingface.endpoint": "HF_ENDPOINT"}  # see _apply_env


def _apply_env(raw: dict[str, Any]) -> dict[str, Any]:
    raw = dict(raw)
    if os.environ.get("WATCHER_DATABASE_URL"):
        raw["database"] = os.environ["WATCHER_DATABASE_URL"]
    if os.environ.get("HF_ENDPOINT"):
        hub = dict(raw.get("huggingface") or {})
        hub["endpoint"] = os.environ["HF_ENDPOINT"]
        raw["huggingface"] = hub
    return raw


def load(explicit: str | None = None) -> Config:
    """Load the config the CLI should use; raise ConfigError (one line) on any problem."""
    path = resolve_path(explicit)
    if path is None:
        text = resources.files("watcher").joinpath("default_config.yaml").read_text()
        return parse(text, "(embedded default config)")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse(text, str(path))
