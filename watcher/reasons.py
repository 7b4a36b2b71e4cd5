"""A source's errors of one cycle in a few plain words, for the one log line per source per cycle.

The errors themselves (URL, exception class, the library's wording) stay available at debug level and
in `watcher poll` / `status`; an operator scanning the log needs "cannot resolve huggingface.co", not
nine `expand=` parameters and a urllib3 repr.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

_STATUS = re.compile(r"\bHTTP (\d{3})\b")
# (pattern in the error text, plain reason, whether the request was retried before giving up)
_KINDS: tuple[tuple[re.Pattern[str], str, bool], ...] = (
    (re.compile(r"NameResolution|Name or service not known|Failed to resolve|nodename nor servname|"
                r"Temporary failure in name resolution|getaddrinfo failed", re.I), "cannot resolve {host}", True),
    (re.compile(r"Connection refused|ConnectionRefused", re.I), "{host} refused the connection", True),
    (re.compile(r"timed? ?out|Timeout", re.I), "{host} did not answer in time", True),
    (re.compile(r"rate limit|HTTP 429", re.I), "rate limited by {host}", False),
    (re.compile(r"certificate|SSL", re.I), "TLS error talking to {host}", False),
    (re.compile(r"Connection ?(reset|aborted|Error)|RemoteDisconnected|ConnectError|ProtocolError", re.I),
     "connection to {host} failed", True),
)
MAX_REASON = 160
_QUERY = re.compile(r"(https?://[^\s?'\"]+)\?[^\s:'\"]*")


def without_queries(text: str) -> str:
    """URLs without their query strings (the Hub's listing URL carries nine `expand=`): for summaries;
    the full text stays in the debug log."""
    return _QUERY.sub(r"\1?...", text)


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def plain(errors: Sequence[str], host: str, tries: int) -> str:
    """The most telling reason among `errors`: 'cannot resolve huggingface.co, 3 tries'."""
    if not errors:
        return "no error"
    for pattern, reason, retried in _KINDS:
        if any(pattern.search(error) for error in errors):
            return reason.format(host=host) + (f", {tries} tries" if retried and tries > 1 else "")
    statuses = sorted({int(m.group(1)) for e in errors for m in _STATUS.finditer(e)})
    if statuses:
        shown = ", ".join(f"HTTP {s}" for s in statuses[:3])
        retried = tries > 1 and any(s >= 500 or s == 408 for s in statuses)
        return f"{shown} from {host}" + (f", {tries} tries" if retried else "")
    first = errors[0].strip().splitlines()[0] if errors[0].strip() else "error"
    return first if len(first) <= MAX_REASON else first[:MAX_REASON - 3] + "..."
