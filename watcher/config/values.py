"""The value types config.yaml spells by hand: durations (15m, 1h30m, 7d) and strict ISO dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")

MAX_DURATION_SECONDS = 366 * 86400

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, allow_zero: bool = False) -> dt.timedelta:
    """Accept 30s, 15m, 1h, 1h30m, 7d (or plain seconds) so the YAML stays human."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 15m, 1h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        parts = _DURATION_PART.findall(text)
        if not parts or _DURATION_PART.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration such as 30s, 15m, 1h")
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be positive")
    if not seconds <= MAX_DURATION_SECONDS:  # also catches inf and nan
        raise ValueError(f"{value!r} is longer than a year")
    return dt.timedelta(seconds=seconds)


def format_duration(value: dt.timedelta | None) -> str:
    """The config's own spelling (15m, 1h30m, 7d, 0s), for check-config and log lines; parse_duration reads it back."""
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds != int(seconds):
        return f"{seconds:g}s"
    seconds, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]

Wait = Annotated[dt.timedelta, BeforeValidator(lambda v: parse_duration(v, allow_zero=True))]


def _strict_date(value: Any) -> Any:
    """YAML dates arrive as text (see _Loader); reject datetimes and numbers, accept ISO dates."""
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date (YYYY-MM-DD), not a timestamp")
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a real date (YYYY-MM-DD): {exc}") from None
    if isinstance(value, dt.date):
        return value
    raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)")


Date = Annotated[dt.date, BeforeValidator(_strict_date)]
