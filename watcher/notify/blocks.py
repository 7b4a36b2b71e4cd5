"""Block Kit for Slack: a header, one line per repo, a context line; split only where Slack would refuse.

Everything that may come from an API passes through `escape`, so a repo called `<!channel>` is shown,
never obeyed. The same layout is rebuilt from stored `content` when a message is updated in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watcher.notify.render import Item, escape
from watcher.redact import redact

MAX_BLOCKS = 50  # per message
MAX_SECTION = 3000  # characters of a section's text
MAX_HEADER = 150  # characters of a header's plain text
# chat.postMessage answers `msg_blocks_too_long` somewhere above ~12,000 characters of block text in
# total (undocumented; slackapi/bolt-js#2509 measured ~13,200): stay clear of it.
MAX_TOTAL = 11_000
MAX_FALLBACK = 3000  # the notification / screen-reader text; Slack truncates far later, readers earlier


@dataclass
class Part:
    """One Slack message: all of a drop when it fits, else one of `count` numbered parts."""

    headline: str
    items: list[Item]
    context: str = ""
    index: int = 1
    count: int = 1
    more: int = 0  # lines left out (only when an update in place no longer fits)
    extra: list[str] = field(default_factory=list)  # plain lines after the items (summaries)

    @property
    def suffix(self) -> str:
        return f" ({self.index}/{self.count})" if self.count > 1 else ""

    @property
    def subjects(self) -> list[str]:
        return sorted({i.subject for i in self.items if i.subject})


def item_line(item: Item) -> str:
    """`• Weights published: <url|Qwen/Qwen3.7-27B> (54.6 GB, 27.3B params, FP8)` in escaped mrkdwn."""
    text = f"• {escape(item.label)}"
    if item.repo:
        name = escape(item.repo).replace("|", "¦")
        text += f": <{escape(item.url).replace('|', '%7C')}|{name}>" if item.url else f": {name}"
    if item.details:
        text += f" ({escape(item.details)})" if item.repo else f": {escape(item.details)}"
    if item.status:
        text += f"\n      ↳ _now: {escape(item.status)}_"
    return text[: MAX_SECTION - 10]


def split(headline: str, items: list[Item], context: str = "", extra: list[str] | None = None) -> list[Part]:
    """Pack lines into as few messages as Slack accepts; only a drop too big for one is numbered."""
    groups: list[list[Item]] = [[]]
    sections: list[int] = []  # lengths of the current message's sections
    fixed = min(len(headline), MAX_HEADER) + min(len(context), MAX_SECTION) + 20
    total = fixed
    for item in items:
        size = len(item_line(item))
        joins = bool(sections) and sections[-1] + 1 + size <= MAX_SECTION
        needed = 2 + len(sections) + (0 if joins else 1)  # header + sections + context
        if groups[-1] and (needed > MAX_BLOCKS or total + size + 1 > MAX_TOTAL):
            groups.append([])
            sections, total, joins = [], fixed, False
        if joins:
            sections[-1] += 1 + size
        else:
            sections.append(size)
        total += size + 1
        groups[-1].append(item)
    count = len(groups)
    parts = [Part(headline, group, context, i + 1, count) for i, group in enumerate(groups)]
    parts[-1].extra = list(extra or [])
    return parts


def _sections(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= MAX_SECTION:
            out[-1] += "\n" + line
        else:
            out.append(line[:MAX_SECTION])
    return out


def blocks(part: Part) -> list[dict[str, Any]]:
    """header + sections (lines packed up to 3,000 characters) + context."""
    header = _clip(escape(part.headline) + part.suffix, MAX_HEADER)
    out: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    lines = [item_line(i) for i in part.items] + [escape(line) for line in part.extra]
    if part.more:
        lines.append(f"… and {part.more} more")
    for text in _sections(lines) or ["(nothing to list)"]:
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": redact(text)}})
    if part.context:
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(escape(part.context), 2000)}]})
    return out


def fallback_text(part: Part) -> str:
    """Plain `text` for notifications and screen readers; escaped too, since Slack parses it for mentions."""
    lines = [part.headline + part.suffix]
    for item in part.items:
        line = f"- {item.label}"
        if item.repo:
            line += f": {item.repo}"
        if item.details:
            line += f" ({item.details})" if item.repo else f": {item.details}"
        if item.status:
            line += f" [now: {item.status}]"
        lines.append(line)
    lines.extend(part.extra)
    if part.context:
        lines.append(part.context)
    return redact(_clip(escape("\n".join(lines)), MAX_FALLBACK))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_content(part: Part) -> dict[str, Any]:
    """What is stored for a posted message, so it can be re-rendered with a new state later."""
    return {
        "headline": part.headline, "context": part.context, "index": part.index, "count": part.count,
        "extra": part.extra,
        "items": [{"label": i.label, "repo": i.repo, "url": i.url, "details": i.details, "kind": i.kind,
                   "subject": i.subject, "status": i.status} for i in part.items],
    }


def from_content(content: dict[str, Any]) -> Part:
    items = [Item(**item) for item in content.get("items") or []]
    return Part(content.get("headline") or "", items, content.get("context") or "",
                content.get("index") or 1, content.get("count") or 1, extra=list(content.get("extra") or []))


def fit(part: Part) -> Part:
    """An edited message cannot be split: drop trailing lines until it fits again."""
    while len(part.items) > 1 and not _fits(part):
        part.items.pop()
        part.more += 1
    return part


def _fits(part: Part) -> bool:
    built = blocks(part)
    total = sum(len((b.get("text") or {}).get("text") or "") for b in built)
    return len(built) <= MAX_BLOCKS and total <= MAX_TOTAL
