"""Text from outside (APIs, the database, the config) made safe to show: no hidden characters, no markup.

Why: a repo id or tag containing `[/]` crashed `status` (Rich markup) for as long as the row existed,
`[link=...]` became a clickable link, and newlines, terminal escape sequences, right-to-left overrides
and zero-width characters could forge or disguise output lines. Data is never markup, anywhere.
"""

from __future__ import annotations

import re
from typing import Any

# C0/C1 controls (NUL, ESC, newlines), zero-width characters, bidi overrides and isolates, BOM, lone surrogates.
INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")


def visible(value: Any, keep_newlines: bool = False) -> str:
    """The text with invisible characters removed (a terminal escape dies with its ESC)."""
    if keep_newlines:
        return "\n".join(INVISIBLE.sub("", line) for line in str(value).split("\n"))
    return INVISIBLE.sub("", str(value))


def markup_safe(value: Any) -> Any:
    """For Rich: every string in `value` (recursively) visible-only and markup-escaped; other types as they are."""
    from rich.markup import escape

    if isinstance(value, str):
        return escape(visible(value))
    if isinstance(value, dict):
        return {k: markup_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [markup_safe(v) for v in value]
    return value
