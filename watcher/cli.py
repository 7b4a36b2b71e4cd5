"""Command line: parse, call, print. Heavy modules (HTTP clients, scheduler) load only in the commands that use them."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import Annotated, Optional

import typer

from watcher import config as config_mod
from watcher.redact import redact

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Watch the Hugging Face Hub and GitHub for open-weight releases; alert when they land or are late.")
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> None:
    """One line on stderr, no traceback: what a user needs to fix it."""
    typer.echo(f"watcher: {redact(message)}", err=True)
    raise typer.Exit(code)


def now() -> dt.datetime:
    """The clock. WATCHER_NOW (ISO date or datetime) pins it, for what-if checks and tests."""
    pinned = os.environ.get("WATCHER_NOW")
    if not pinned:
        return dt.datetime.now(dt.timezone.utc)
    try:
        value = dt.datetime.fromisoformat(pinned.replace("Z", "+00:00"))
    except ValueError:
        fail(f"WATCHER_NOW: {pinned!r} is not an ISO date or datetime")
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def load_config(ctx: typer.Context):
    try:
        return config_mod.load(ctx.obj.get("config"))
    except config_mod.ConfigError as exc:
        fail(str(exc))


def _safe_url(url: str) -> str:
    from watcher.store.db import safe_url

    return safe_url(url)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_store(config, create: bool = True):
    from watcher.store.db import StoreError, open_engine

    try:
        return open_engine(config.database, create=create)
    except StoreError as exc:
        fail(str(exc))


def setup_logging(level: str = "WARNING", stream=None) -> None:
    """Commands other than `run` log problems to stderr, one line each, through the daemon's formatter."""
    from watcher import logs

    logs.setup("text", level, stream or sys.stderr)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[Optional[str], typer.Option("--config", "-c", help="Config file (default: $WATCHER_CONFIG, ./config.yaml, or the embedded default).")] = None,
) -> None:
    ctx.obj = {"config": config}


@app.command()
def poll(ctx: typer.Context) -> None:
    """Run one cycle now: poll every watch, detect, store, deliver alerts, print a summary."""
    cfg = load_config(ctx)
    setup_logging("ERROR")
    engine = open_store(cfg)
    from watcher.pipeline import run_cycle
    from watcher.store.locks import store_lock

    from sqlalchemy.exc import SQLAlchemyError

    try:
        with store_lock(engine):  # concurrent polls (cron, replicas) take turns: each sees the last one's state
            result = run_cycle(cfg, engine, clock=now)
    except SQLAlchemyError as exc:
        # Nothing was committed: the next cycle sees the same changes again, so no alert is lost.
        from watcher.store.problems import describe

        fail(f"database {_safe_url(cfg.database)}: cycle not stored: {describe(exc)}", code=1)
    requests = sum(result.requests.values())
    typer.echo(
        f"cycle {result.run_id}: {len(cfg.watches)} watch(es) polled in {result.seconds:.1f}s, "
        f"{requests} request(s), {len(result.events)} new event(s), {len(result.errors)} error(s); "
        f"alerts delivered {result.delivered}, pending {result.pending}"
        + (f", failed {result.failed}" if result.failed else "")
    )
    for event in result.events:
        typer.echo(f"  event {event.watch} {event.kind.value} {event.repo_id or ''}".rstrip())
    for error in result.errors + result.delivery_errors:
        typer.echo(f"  error: {redact(error)}")
    for line in result.deferred:
        typer.echo(f"  deferred: {redact(line)}")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status document as JSON.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Health check: exit 0 healthy, 1 stale or never polled, 2 config/database error.")] = False,
) -> None:
    """Show each watch's state, window, repos, last poll and pending alerts (reads the database only)."""
    cfg = load_config(ctx)
    if check:
        from watcher import health

        code, line = health.check(cfg, now())
        typer.echo(redact(line))
        raise typer.Exit(code)
    engine = open_store(cfg)
    from watcher import status as status_mod

    try:
        doc = status_mod.build(cfg, engine, now())
    except Exception as exc:  # noqa: BLE001 - a broken database is a one-line error, not a traceback
        fail(f"database {_safe_url(cfg.database)}: {_first_line(exc)}")
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    from watcher.views import print_status

    print_status(doc)


@app.command()
def events(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many events.")] = 20,
    watch: Annotated[Optional[str], typer.Option("--watch", help="Only this watch.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the most recent events, newest first."""
    cfg = load_config(ctx)
    engine = open_store(cfg)
    from watcher.store import queries
    from watcher.store.db import transaction

    with transaction(engine) as session:
        rows = queries.recent_events(session, limit, watch)
        items = [
            {"id": r.id, "created_at": r.created_at.isoformat().replace("+00:00", "Z"), "watch": r.watch,
             "kind": r.kind, "source": r.source, "repo_id": r.repo_id, "data": r.data}
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    from watcher.views import print_events

    print_events(items)


@app.command()
def run(
    ctx: typer.Context,
    log_format: Annotated[str, typer.Option("--log-format", envvar="WATCHER_LOG_FORMAT",
                                            help="Log lines on stdout: text or json (one object per line).")] = "text",
) -> None:
    """Run the daemon: poll, deliver and cadence jobs until SIGTERM/SIGINT (graceful), a second signal exits at once."""
    cfg = load_config(ctx)
    if log_format not in ("text", "json"):
        fail(f"--log-format: {log_format!r} is not one of text, json")
    from watcher import logs

    logs.setup(log_format, "INFO", sys.stdout)
    engine = open_store(cfg)
    from watcher import daemon, notify

    warning = notify.slack_warning(cfg)
    if warning:
        logging.getLogger("watcher").warning(warning)
    listeners = []
    if cfg.metrics is not None:
        from watcher.metrics import Metrics

        metrics = Metrics(cfg, engine, now)
        try:
            metrics.serve()
        except OSError as exc:
            fail(f"metrics.port: cannot listen on {cfg.metrics.host}:{cfg.metrics.port}: {exc.strerror or exc}")
        listeners.append(metrics.on_job)
    from watcher.leader import LeaderError

    try:
        code = daemon.run(cfg, engine, clock=now, listeners=listeners)
    except LeaderError as exc:
        fail(str(exc), 1)
    raise typer.Exit(code)


@app.command("cadence")
def cadence_cmd(
    ctx: typer.Context,
    watch: Annotated[Optional[str], typer.Argument(help="Watch name (default: the first watch with a cadence).")] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Also draw a timeline chart into this PNG file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show a watch's release history (lags on both bases), its expected window, and today's place in it."""
    cfg = load_config(ctx)
    from watcher import cadence_report

    try:
        chosen = cadence_report.pick_watch(cfg, watch)
    except KeyError:
        fail(f"unknown watch {watch!r} (watches: {', '.join(w.name for w in cfg.watches)})")
    today = now().date()
    doc = cadence_report.report(chosen, today, _released(cfg, chosen.name))
    if plot:
        from pathlib import Path

        try:
            from watcher import plot as plot_mod
        except ImportError as exc:
            if not (exc.name or "").startswith("matplotlib"):
                raise
            fail("--plot needs matplotlib: pip install 'openweights-watcher[plot]'", code=1)
        try:
            plot_mod.render(cadence_report.plot_data(chosen, today), Path(plot))
        except OSError as exc:
            fail(f"--plot {plot}: cannot write: {exc.strerror or exc}", code=1)
        doc["plot"] = plot
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    cadence_report.print_report(doc)
    if plot:
        typer.echo(f"chart written to {plot}")


def _released(cfg, watch: str) -> bool | None:
    """Whether open weights were seen, from the database if there is one; None when nothing was polled yet."""
    from watcher.store import queries
    from watcher.store.db import StoreError, open_engine, transaction

    try:
        engine = open_engine(cfg.database, create=False)
        with transaction(engine) as session:
            if queries.watch_row(session, watch) is None:
                return None
            return any(r.has_weights and r.source == "huggingface" for r in queries.repos_of(session, watch))
    except (StoreError, Exception):  # noqa: BLE001 - no database yet is normal here: the history still shows
        return None


@app.command("check-config")
def check_config(ctx: typer.Context) -> None:
    """Validate the config and print what would be watched."""
    cfg = load_config(ctx)
    from watcher import notify
    from watcher.views import print_config

    print_config(cfg, notify.destinations(cfg), notify.slack_warning(cfg))


notify_app = typer.Typer(no_args_is_help=True, help="Alert destinations: test them, requeue failed alerts.")
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(ctx: typer.Context) -> None:
    """Send a test message to every configured destination; exit 1 if any of them failed."""
    cfg = load_config(ctx)
    setup_logging("ERROR")
    from watcher import notify

    failed = False
    _, missing = notify.slack_routes(cfg)
    if cfg.slack is not None and notify.destinations(cfg) == ["console"]:
        missing = cfg.slack.all_routes()
    for route in missing:
        typer.echo(f"slack:{route.channel}: FAILED: no credential (set SLACK_BOT_TOKEN, or "
                   f"{route.webhook_env or 'SLACK_WEBHOOK_URL'} for a webhook)")
        failed = True
    watches = [w.name for w in cfg.watches]
    for notifier in notify.build(cfg):
        if notifier.destination == "console" and cfg.slack is not None:
            continue
        try:
            detail = notifier.test(watches)
        except notify.DeliveryError as exc:
            typer.echo(f"{notifier.destination}: FAILED: {redact(exc.reason)}")
            failed = True
            continue
        typer.echo(f"{notifier.destination}: ok ({detail})")
    raise typer.Exit(1 if failed else 0)


@notify_app.command("retry")
def notify_retry(ctx: typer.Context) -> None:
    """Put failed alerts back in the outbox (after fixing the channel or token); the next cycle sends them."""
    cfg = load_config(ctx)
    engine = open_store(cfg)
    from watcher.store import queries
    from watcher.store.db import transaction

    with transaction(engine) as session:
        rows = [d for d in queries.undelivered(session, limit=100_000) if d.status == queries.FAILED]
        for row in rows:
            row.status = queries.PENDING
    typer.echo(f"{len(rows)} failed alert(s) queued again; `watcher poll` or the daemon's next cycle sends them")


def main() -> None:
    app(prog_name="watcher")


from watcher.cli_config import config_app  # noqa: E402 - sub-apps import cli lazily, inside their commands
from watcher.cli_db import db_app  # noqa: E402

app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")
