"""Rich tables for the terminal; they render the same dicts that --json prints."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from watcher.plaintext import markup_safe

STATE_STYLE = {"released": "bold green", "in_window": "yellow", "overdue": "bold red", "waiting": "cyan", "unknown": "dim"}


def _console() -> Console:
    """A terminal gets its own width; a pipe or a file gets wide lines instead of 80-column wrapping."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _size(n: int | None) -> str:
    return f"{n / 1e9:.1f} GB" if n else "-"


def _params(n: int | None) -> str:
    return f"{n / 1e9:.1f}B" if n else "-"


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


def print_status(doc: dict[str, Any], console: Console | None = None, show_all: bool = False) -> None:
    console = console or _console()
    doc = markup_safe(doc)  # every value from the database is data, never markup or control characters
    last = doc.get("last_poll")
    if last:
        console.print(f"Last poll: started {_when(last['started_at'])}, finished {_when(last['finished_at'])}, "
                      f"{sum((last.get('requests') or {}).values())} request(s)")
        for error in last.get("errors") or []:
            console.print(f"  [red]error[/red] {error}", markup=True, highlight=False)
    else:
        console.print("No poll has run yet: run `watcher poll` or `watcher run`.")
    if doc.get("webhooks"):
        console.print(_webhook_line(doc["webhooks"]), highlight=False, markup=False)
    for source, budget in sorted((doc.get("rate_limits") or {}).items()):
        console.print(_budget_line(source, budget), highlight=False)
    for warning in doc.get("warnings") or []:
        console.print(f"[yellow]warning[/yellow] {warning}")
    console.print(f"Alerts: {doc['pending_alerts']} pending, {doc.get('failed_alerts', 0)} failed; "
                  f"destinations: {', '.join(doc.get('destinations') or [])}")
    for item in doc.get("undelivered") or []:
        console.print(f"  {item['status']} #{item['id']} {item['watch']} -> {item['destination']}: "
                      f"{item.get('last_error') or _not_yet(item)} ({item['attempts']} attempt(s))", highlight=False)
    for watch in doc["watches"]:
        console.print(_watch_table(watch, show_all))
        if watch.get("window"):
            console.print(_window_line(watch), highlight=False)
        for line in variant_lines(watch, show_all):
            console.print(line, highlight=False, soft_wrap=True)


def _webhook_line(hooks: dict[str, Any]) -> str:
    if hooks.get("last_received_at"):
        line = f"Webhooks: last received {_when(hooks['last_received_at'])} ({hooks.get('last_repo') or '?'})"
    else:
        line = "Webhooks: none received yet (polling still runs on its interval)"
    if hooks.get("last_rejected_at"):
        line += f"; last refused {_when(hooks['last_rejected_at'])} ({(hooks.get('last_rejection') or '').replace('_', ' ')})"
    return line


def _window_line(watch: dict[str, Any]) -> str:
    """Why the window is where it is: basis, source, and what the history says when lag_days override it."""
    window = watch["window"]
    text = (f"  {watch['name']} window {window['start']} to {window['end']}, most likely {window['median']}; "
            f"basis {watch['basis']}, from {watch['window_source']}")
    others = [f"{basis} {w['start']} to {w['end']}" for basis, w in (watch.get("history_windows") or {}).items()
              if "start" in w and (w["start"], w["end"]) != (window["start"], window["end"])]
    return text + (f"; history says: {'; '.join(others)}" if others else "")


def variant_lines(watch: dict[str, Any], show_all: bool = False) -> list[str]:
    """One line per expected variant: its window, its state, the repo that fulfilled it; then why and how sure.

    Variants nobody expected (a watch without `variants:` on a big drop) are summed up in one line unless
    `--all`, like the repo table: the lines that matter must not scroll away."""
    lines = []
    variants = watch.get("variants") or []
    unexpected = [v for v in variants if not v["window"]["start"]]
    if not show_all and len(unexpected) > SUMMARY_ROWS:
        variants = [v for v in variants if v["window"]["start"]]
        shown = ", ".join(v["variant"] for v in unexpected[:5])
        lines.append(f"    {len(unexpected)} variant(s) nobody listed also landed ({shown}, ...; "
                     "watcher status --all lists them)")
    if watch.get("state_by_window"):
        lines.append(f"    no poll has succeeded yet, so the state is unknown; by the window alone: {watch['state_by_window']}")
    if watch.get("late_variants"):
        lines.append(f"    late: {watch['late_variants']}")
    for var in variants:
        win = var["window"]
        expected = f"expected {win['start']} to {win['end']} (most likely {win['median']})" if win["start"] else \
            "not expected"
        text = f"    {var['variant']}: {var['state']}"
        if var["repo"]:
            off = var.get("days_from_most_likely")
            text += f" - {var['repo']} on {var['landed']}" + (f", {off:+d} day(s) from its most likely date" if off is not None else "")
        elif var.get("days_overdue") is not None:
            text += f" - {var['days_overdue']} day(s) late" + (" by the window" if var.get("state_by_window") else "")
        lines.append(f"{text}; {expected}")
    if watch.get("window_reason"):
        lines.append(f"    why this window: {watch['window_reason']}")
    if watch.get("track_record"):
        lines.append(f"    uncertainty: {watch['track_record']} (watcher cadence --backtest)")
    return lines


def _not_yet(item: dict[str, Any]) -> str:
    return "being sent, or interrupted before the answer" if item.get("attempts") else "not tried yet"


def _budget_line(source: str, b: dict[str, Any]) -> str:
    left = f"{b['remaining']} of {b['limit']} left" if b.get("remaining") is not None else "no limit seen yet"
    line = f"Rate limit {source}: {left}"
    if b.get("reset_at"):
        line += f", resets {_when(b['reset_at'])}"
    if b.get("blocked_until"):
        line += f"; paused until {_when(b['blocked_until'])} ({b.get('blocked_reason') or 'rate limited'})"
    if b.get("cycle_cap"):
        line += (f"; no token: at most {b['cycle_cap']} request(s) per cycle to stay under the hourly limit, "
                 "repos spread over cycles")
    if b.get("deferred"):
        line += f"; last cycle deferred {b['deferred']} request(s)"
    return line


SUMMARY_ROWS = 15  # a watch with more repos shows counts and the repos that matter (`status --all`: every one)


def shown_repos(repos: list[dict[str, Any]], show_all: bool = False) -> list[dict[str, Any]]:
    """The rows worth a line: hidden repos (what the watch waits for), then the newest sightings."""
    if show_all or len(repos) <= SUMMARY_ROWS:
        return repos
    hidden = [r for r in repos if not r["visible"]]
    newest = sorted((r for r in repos if r["visible"]), reverse=True,
                    key=lambda r: (r.get("weights_seen") or "", r.get("first_seen") or ""))
    picked = {id(r) for r in (hidden + newest)[:SUMMARY_ROWS]}
    return [r for r in repos if id(r) in picked]


def repo_counts(repos: list[dict[str, Any]]) -> str:
    weights = sum(1 for r in repos if r["weights"])
    visible = sum(1 for r in repos if r["visible"])
    return (f"{len(repos):,} repos: {visible:,} visible ({weights:,} with weights), "
            f"{len(repos) - visible:,} hidden or gone")


def _watch_table(watch: dict[str, Any], show_all: bool = False) -> Table:
    state = watch["state"]
    window = watch["expected_window"]
    when = ""
    if watch.get("state_by_window"):
        when = f" (no poll has succeeded; by the window alone: {watch['state_by_window']})"
    elif watch.get("days_overdue") is not None:
        when = f", {watch['days_overdue']} day(s) overdue"
    elif watch.get("days_until_window") is not None:
        when = f", window opens in {watch['days_until_window']} day(s)"
    title = (f"{watch['title']} ({watch['name']}): [{STATE_STYLE.get(state, '')}]{state}[/] - expected "
             f"{window['start']} to {window['end']}{when}; flagship {watch['flagship']['name']} "
             f"{watch['flagship']['released']}; last poll {_when(watch.get('last_poll_at'))}; "
             f"{watch.get('pending_alerts', 0)} alert(s) pending")
    shown = shown_repos(watch["repos"], show_all)
    caption = None
    if len(shown) < len(watch["repos"]):
        caption = (f"{repo_counts(watch['repos'])}; showing the {len(shown)} hidden or newest "
                   f"(watcher status --all lists every repo)")
    table = Table(title=title, title_justify="left", expand=False, caption=caption, caption_justify="left")
    for column in ("source", "repo", "visible", "weights", "size", "params", "first seen", "release"):
        table.add_column(column)
    for repo in shown:
        visible = "yes" if repo["visible"] else f"hidden ({repo['status']})" if repo.get("status") else "no"
        table.add_row(
            repo["source"], repo["id"], visible,
            "yes" if repo["weights"] else "no",
            _size(repo.get("weight_bytes")), _params(repo.get("params")),
            _when(repo.get("first_seen")), repo.get("latest_release") or "-",
        )
    if not watch["repos"]:
        table.add_row("-", "nothing found yet", "", "", "", "", "", "")
    return table


def print_events(items: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or _console()
    items = markup_safe(items)
    table = Table(title="Recent events (newest first)", title_justify="left")
    for column in ("when", "watch", "kind", "repo", "details"):
        table.add_column(column)
    for item in items:
        data = item.get("data") or {}
        details = data.get("summary") or data.get("tag") or (_size(data.get("weight_bytes")) if data.get("weight_bytes") else "")
        table.add_row(_when(item["created_at"]), item["watch"], item["kind"], item.get("repo_id") or "-", str(details))
    if not items:
        table.add_row("-", "-", "no events yet", "-", "-")
    console.print(table)


def print_config(config, destinations: list[str], warning: str | None, console: Console | None = None) -> None:
    console = console or _console()
    from watcher.config import format_duration
    from watcher.forecast import windows

    e = _text  # every configured value is data: a title with `[/]` must print, not crash
    schedule = config.schedule
    metrics = f"; metrics on {e(config.metrics.host)}:{config.metrics.port}" if config.metrics is not None else ""
    console.print(f"Config OK: {e(config.source_path)}")
    console.print(f"database: {e(_safe(config.database))}; poll every {format_duration(schedule.poll_interval)}; "
                  f"hub {e(config.huggingface.endpoint)}; github {e(config.github.api_url)}; "
                  f"alerts to {e(', '.join(destinations))}{metrics}", highlight=False)
    if config.webhooks is not None:
        import os

        hooks = config.webhooks
        secret = "set" if os.environ.get("WATCHER_WEBHOOK_SECRET") else "NOT SET: `watcher run` will refuse to start"
        console.print(f"webhooks: `watcher run` listens on {hooks.host}:{hooks.port}{hooks.path}; "
                      f"WATCHER_WEBHOOK_SECRET {secret}", markup=False, highlight=False)
    if warning:
        console.print(f"[yellow]warning[/yellow] {e(warning)}")
    for watch in config.watches:
        win = windows.expected_window(watch, config.cadences)
        start, end = win.start, win.end
        own = f"; polled every {format_duration(watch.poll_interval)}" if watch.poll_interval else ""
        console.print(f"- {e(watch.name)}: {e(watch.display_title)}; flagship {e(watch.flagship.name)} "
                      f"{watch.flagship.released}; expected {start} to {end}{own}", highlight=False)
        if watch.huggingface:
            hub = watch.huggingface
            console.print(f"    huggingface: authors {e(hub.authors or '-')}, include {e(hub.include)}, "
                          f"exclude {e(hub.exclude or '-')}, repos {e(hub.repos or '-')}", highlight=False)
        if watch.github:
            gh = watch.github
            console.print(f"    github: repos {e(gh.repos or '-')}, orgs {e(gh.orgs or '-')}, include {e(gh.include)}, "
                          f"exclude {e(gh.exclude or '-')}", highlight=False)


def _text(value: Any) -> str:
    return markup_safe(str(value))


def _safe(url: str) -> str:
    from watcher.store.db import safe_url

    return safe_url(url)
