"""Turn a watch's events from one cycle into one message: items for Slack (blocks.py), plain text for the console."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from watcher.models import Source
from watcher.plaintext import visible
from watcher.redact import redact

MAX_LINES = 60  # a drop of hundreds of repos still stays one readable message
_QUANT = re.compile(r"(?i)(?:^|[-_.])(fp8|fp4|int8|int4|w4a16|w8a8|gguf|awq|gptq|mlx|bnb|nf4|exl2|\d+bit)(?=$|[-_.])")


# Watch-level kinds that belong in one thread (the first overdue alert's); other parallel work may add kinds.
WATCH_THREAD_KINDS = ("overdue", "reminder", "variant_released")


@dataclass
class Item:
    """One line of a message, with the thing it is about (`subject`) so follow-ups can find its thread."""

    label: str
    repo: str | None
    url: str | None
    details: str
    kind: str
    subject: str | None = None
    status: str = ""  # current state, shown when the message is updated in place


@dataclass
class Message:
    watch: str
    title: str
    events: list[dict[str, Any]]
    context: str = ""
    headline: str = ""
    lines: list[tuple[str, str | None, str | None, str]] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


def subject_of(event: dict[str, Any]) -> str | None:
    """What an event is about: a repo, or the watch's lateness; None for things that never thread."""
    kind = event.get("kind") or ""
    if kind == "watch_started":
        return None
    if event.get("repo_id"):
        return f"{event.get('source')}:{event['repo_id']}"
    if kind.startswith(WATCH_THREAD_KINDS):
        return "overdue"
    return None


def build_message(watch: str, title: str, events: list[dict[str, Any]], context: str = "") -> Message:
    """Group events per repo so a repo that appears with weights is one line, not two."""
    message = Message(watch, title, events, context)
    by_repo: dict[tuple, list[dict]] = {}
    for event in events:
        by_repo.setdefault((event.get("source"), event.get("repo_id")), []).append(event)
    for (source, repo_id), group in by_repo.items():
        kinds = {e["kind"] for e in group}
        for event in group:
            if event["kind"] == "repo_appeared" and "weights_published" in kinds:
                continue
            lines = _lines(event, source, repo_id)
            message.lines.extend(lines)
            subject = subject_of(event)
            message.items.extend(Item(*line, kind=event["kind"], subject=subject if line[1] == repo_id else None)
                                 for line in lines)
    message.headline = _headline(title, events)
    return message


def _headline(title: str, events: list[dict]) -> str:
    kinds = [e["kind"] for e in events]
    public = any(e["kind"] == "repo_appeared" and (e.get("data") or {}).get("was_hidden_status") for e in events)
    for kind, words in (
        ("weights_published", "weights published"),
        ("released", "released"),
        ("overdue", "overdue"),
        ("reminder", "still overdue (reminder)"),
        ("window_opened", "release window opened"),
        ("source_failing", "a source keeps failing"),
        ("source_recovered", "source recovered"),
        ("repo_appeared", "repo public" if public else "new repos"),
        ("release_published", "new releases"),
        ("repo_hidden", "repos hidden"),
        ("gating_changed", "gating changed"),
        ("watch_started", "watching started"),
    ):
        if kind in kinds:
            return f"{title}: {words}"
    return f"{title}: {kinds[0].replace('_', ' ')}" if kinds else title


def _lines(event: dict, source: str | None, repo_id: str | None) -> list[tuple[str, str | None, str | None, str]]:
    """(label, repo, url, details) per thing worth a line."""
    kind, data = event["kind"], event.get("data") or {}
    url = data.get("url")
    if kind == "watch_started":
        visible = data.get("visible") or []
        out: list[tuple[str, str | None, str | None, str]] = [
            ("Watching started", None, None, f"{len(visible)} repo(s) already visible")]
        for item in visible:
            out.append(("Already visible", item.get("repo_id"), item.get("url"), facts(item)))
        return out
    if kind == "weights_published":
        return [("Weights published", repo_id, url, facts(data))]
    if kind == "repo_appeared":
        if source == Source.GITHUB:
            label = "GitHub repo is now public" if data.get("was_hidden_status") else "New GitHub repo"
            return [(label, repo_id, url, facts(data))]
        return [("New repo, no weights yet (placeholder)", repo_id, url, facts(data))]
    if kind == "repo_hidden":
        return [("Repo hidden or deleted", repo_id, url, "")]
    if kind == "gating_changed":
        return [("Gating changed", repo_id, url, f"{data.get('before') or 'open'} -> {data.get('after') or 'open'}")]
    if kind == "release_published":
        label = "New release" if data.get("type") == "release" else "New tag"
        return [(f"{label} {data.get('tag')}", repo_id, url, "")]
    if kind == "overdue":
        return [("Overdue", None, None, data.get("summary", ""))]
    if kind == "released":  # a line about the watch (no repo column): the repo's own state stays "weights published"
        return [("Released", None, None, data.get("summary", ""))]
    return [(kind.replace("_", " ").capitalize(), repo_id, url, str(data.get("summary") or ""))]


def facts(data: dict) -> str:
    """'54.6 GB, 27.3B params, FP8' from what the source knew; nothing invented."""
    parts = []
    if data.get("weight_bytes"):
        parts.append(f"{data['weight_bytes'] / 1e9:.1f} GB")
    elif data.get("weights"):
        parts.append(f"{data.get('weight_files')} weight file(s)")
    if data.get("params"):
        parts.append(human_params(data["params"]))
    quant = quantization(data.get("repo_id") or data.get("url") or "")
    if quant:
        parts.append(quant)
    if data.get("gated"):
        parts.append(f"gated ({data['gated']})")
    if data.get("latest_release"):
        parts.append(f"latest {data['latest_release']}")
    return ", ".join(parts)


def human_params(n: int) -> str:
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
        if n >= size:
            return f"{n / size:.1f}{unit} params"
    return f"{n} params"


def quantization(name: str) -> str | None:
    match = _QUANT.search(name.rsplit("/", 1)[-1])
    return match.group(1).upper() if match else None


def _clip(lines: list) -> tuple[list, int]:
    return lines[:MAX_LINES], max(0, len(lines) - MAX_LINES)


def plain_text(message: Message) -> str:
    out = [f"[{message.watch}] {message.headline}"]
    lines, more = _clip(message.lines)
    for label, repo, url, details in lines:
        text = f"  - {label}"
        if repo:
            text += f": {repo}"
        if details:
            text += f" ({details})" if repo else f": {details}"
        if url:
            text += f" {url}"
        out.append(text)
    if more:
        out.append(f"  ... and {more} more")
    if message.context:
        out.append(f"  {message.context}")
    return redact("\n".join(out))


def escape(text: str) -> str:
    """Slack mrkdwn control characters; an API-supplied `<!channel>` must not ping anyone. Invisible and
    right-to-left override characters go too: they make a link or a name read as something else."""
    text = visible(text, keep_newlines=True)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
