"""Command line: parse, call, print. Heavy modules (HTTP clients, scheduler) load only in the commands that use them."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import logging
import sys
from typing import Annotated, Optional

import typer

from watcher.cli.common import fail, load_config, now, open_reader, open_store
from watcher.cli.options import ConfigOption, LogFormat, LogLevelOption, VerboseOption, chosen_level
from watcher.plaintext import visible
from watcher.redact import redact
from watcher.store.errors import first_line, safe_url

# Plain help (no Rich panels): Typer's Rich help tags every option with `<bool>`/`<str>`.
app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Watch the Hugging Face Hub and GitHub for open-weight releases; alert when they land or are late.")
# Python's own collection thresholds: watcher/__main__.py raises the first for a command's start-up, and the
# daemon, which runs for months, goes back to these.
PYTHON_GC_THRESHOLDS = (700, 10, 10)


def _version(value: bool) -> None:
    if value:
        from watcher import __version__

        typer.echo(f"watcher {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.ensure_object(dict)


@app.command()
def poll(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Run one cycle now: poll every watch, detect, store, deliver alerts, print a summary."""
    cfg = load_config(ctx, "ERROR")
    from watcher.engine import head_start
    from watcher.store.locks import LockFileError

    try:  # on a plain SQLite file: the cycle lock taken and the requests out before SQLAlchemy loads
        head = head_start.start(cfg, now)
    except LockFileError as exc:
        fail(str(exc), code=1)
    try:
        result = _poll_cycle(cfg, head)
    finally:
        if head is not None:
            head.close()
    requests = sum(result.requests.values())
    typer.echo(
        f"cycle {result.run_id}: {len(cfg.watches)} watch(es) polled in {result.seconds:.1f}s, "
        f"{requests} request(s), {len(result.events)} new event(s), {len(result.errors)} error(s); "
        f"alerts delivered {result.delivered}, pending {result.pending}"
        + (f", failed {result.failed}" if result.failed else "")
    )
    for event in result.events:
        typer.echo(visible(f"  event {event.watch} {event.kind.value} {event.repo_id or ''}".rstrip()))
    from watcher.reasons import without_queries

    for error in result.errors + result.delivery_errors:
        typer.echo(f"  error: {visible(redact(without_queries(error)))}")
    for line in result.deferred:
        typer.echo(f"  deferred: {visible(redact(line))}")


def _poll_cycle(cfg, head):
    """One cycle under the cycle lock: concurrent polls (cron, replicas) take turns, each sees the last one's state."""
    engine = open_store(cfg, locked=head is not None)
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    from watcher.engine.pipeline import run_cycle
    from watcher.store.locks import LockFileError, sqlite_path, store_lock

    try:
        with store_lock(engine) if head is None else contextlib.nullcontext():
            return run_cycle(cfg, engine, clock=now, head=head)
    except LockFileError as exc:
        fail(str(exc), code=1)
    except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3: what a head start read without SQLAlchemy
        # Nothing was committed: the next cycle sees the same changes again, so no alert is lost.
        from watcher.store.problems import describe

        fail(f"database {safe_url(cfg.database)}: cycle not stored: {describe(exc, sqlite_path(engine))}", code=1)


@app.command()
def status(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status document as JSON.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Health check: exit 0 healthy, 1 stale or never polled, 2 config/database error.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="List every repo in the table (a big watch shows counts and the repos that matter).")] = False,
) -> None:
    """Show each watch's state, window, repos, last poll and pending alerts (reads the database only)."""
    cfg = load_config(ctx)
    moment = now()  # a bad WATCHER_NOW is its own error, not the database's
    if check:
        from watcher.cli import health

        code, line = health.check(cfg, moment)
        typer.echo(redact(line))
        raise typer.Exit(code)
    from watcher.engine import status as status_mod

    try:
        doc = status_mod.build_from_sqlite(cfg, moment)  # a plain SQLite file: sqlite3, no SQLAlchemy import
    except Exception as exc:  # noqa: BLE001 - data the document cannot take: one line, as through SQLAlchemy
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}")
    if doc is None:
        doc = _status_through_sqlalchemy(cfg, moment)
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    from watcher.cli.views import print_status

    print_status(doc, show_all=show_all)


def _status_through_sqlalchemy(cfg, moment: dt.datetime) -> dict:
    """Any other database, or an SQLite file sqlite3 could not read as it is (missing, behind, unreadable)."""
    from watcher.engine import status as status_mod
    from watcher.store.db import StoreError
    from watcher.store.reader import NoDatabase, empty_store
    from watcher.store.reader import open_reader as reader

    missing = None
    try:
        engine = reader(cfg.database)
    except NoDatabase as exc:  # still show what the config alone says: windows, every state unknown
        engine, missing = empty_store(), str(exc)
    except StoreError as exc:
        fail(str(exc))
    try:
        doc = status_mod.build(cfg, engine, moment)
    except Exception as exc:  # noqa: BLE001 - a broken database is a one-line error, not a traceback
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}")
    if missing:
        doc["warnings"].insert(0, missing)
    return doc


@app.command()
def events(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, metavar="N", help="How many events.")] = 20,
    watch: Annotated[Optional[str], typer.Option("--watch", metavar="NAME", help="Only this watch.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Show the most recent events, newest first."""
    cfg = load_config(ctx)
    engine = open_reader(cfg)
    from watcher.store import queries
    from watcher.store.db import transaction

    with transaction(engine) as session:
        rows = queries.recent_events(session, limit, watch)
        if watch and not rows and watch not in {w.name for w in cfg.watches}:
            fail(f"unknown watch {watch!r} (watches: {', '.join(w.name for w in cfg.watches)})")
        items = [
            {"id": r.id, "created_at": r.created_at.isoformat().replace("+00:00", "Z"), "watch": r.watch,
             "kind": r.kind, "source": r.source, "repo_id": r.repo_id, "data": r.data}
            for r in rows
        ]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    from watcher.cli.views import print_events

    print_events(items)


@app.command()
def run(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    log_format: Annotated[LogFormat, typer.Option("--log-format", envvar="WATCHER_LOG_FORMAT", case_sensitive=False,
                                                  help="Log lines on stdout: text, or json (one object per line).")]
        = LogFormat.text,
) -> None:
    """Run the daemon: poll, deliver and cadence jobs until SIGTERM, SIGINT or SIGHUP (graceful; repeats within
    2 s are the same stop, a signal after that exits at once)."""
    from watcher import logs

    gc.set_threshold(*PYTHON_GC_THRESHOLDS)  # a daemon runs for months: Python's own collection schedule
    logs.setup(log_format.value, chosen_level(ctx, "INFO"), sys.stdout)
    cfg = load_config(ctx, None)
    engine = open_store(cfg)
    from watcher import notify
    from watcher.daemon import scheduler as daemon

    warning = notify.slack_warning(cfg)
    if warning:
        logging.getLogger("watcher").warning(warning)
    listeners = []
    if cfg.metrics is not None:
        from watcher.daemon.metrics import Metrics

        metrics = Metrics(cfg, engine, now)
        try:
            metrics.serve()
        except OSError as exc:
            fail(f"metrics.port: cannot listen on {cfg.metrics.host}:{cfg.metrics.port}: {exc.strerror or exc}")
        listeners.append(metrics.on_job)
    import threading

    from watcher.cli import signals as stop_signals
    from watcher.daemon.leader import LeaderError
    from watcher.daemon.webhooks import WebhookError

    stop = threading.Event()
    try:
        runner = daemon.Daemon(cfg, engine, clock=now, listeners=listeners, stop=stop)
    except (LeaderError, WebhookError) as exc:
        fail(str(exc), 1)
    outcome = stop_signals.serve(runner.run, stop_signals.StopSignals(stop, cfg.schedule.shutdown_timeout))
    if outcome is daemon.Stopped.ABANDONED:  # a job thread still runs: a normal exit would wait for it
        stop_signals.hard_exit(0)
    raise typer.Exit(0)


@app.command("cadence")
def cadence_cmd(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
    watch: Annotated[Optional[str], typer.Argument(metavar="WATCH", show_default=False, hidden=True)] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", metavar="FILE", help="Also draw a timeline chart into FILE: .png, .svg or .pdf.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    backtest: Annotated[bool, typer.Option("--backtest", help="Predict each past generation from the earlier ones and score every basis.")] = False,
    export: Annotated[bool, typer.Option("--export", help="Print the cadence's history (configured and observed) as YAML.")] = False,
) -> None:
    """Show a watch's release history per variant, its expected window and why, and today's place in it.

    WATCH is a watch's name; without it, the first watch with a cadence."""
    cfg = load_config(ctx)
    from watcher.forecast import report as cadence_report

    cfg = _with_observed(cfg)
    try:
        chosen = cadence_report.pick_watch(cfg, watch)
    except KeyError:
        fail(f"unknown watch {watch!r} (watches: {', '.join(w.name for w in cfg.watches)})")
    if export:
        history = cadence_report.cadence.history_of(chosen, cfg.cadences)
        if history is None:
            fail(f"watch {chosen.name} names no cadence: nothing to export")
        typer.echo(cadence_report.export_yaml(chosen.cadence or "", history), nl=False)
        return
    if backtest:
        test = cadence_report.backtest_report(chosen, cfg.cadences)
        if as_json:
            typer.echo(json.dumps(test, indent=2))
        else:
            cadence_report.print_backtest(test)
        return
    today = now().date()
    fmt = _plot_format(plot) if plot else None
    doc = cadence_report.report(chosen, cfg.cadences, today, _released(cfg, chosen.name))
    if plot:
        from pathlib import Path

        try:
            from watcher.forecast import plot as plot_mod
        except ImportError as exc:
            if not (exc.name or "").startswith("matplotlib"):
                raise
            fail("--plot needs matplotlib: pip install 'openweights-watcher[plot]'", code=1)
        try:
            plot_mod.render(cadence_report.plot_data(chosen, cfg.cadences, today), Path(plot), fmt)
        except OSError as exc:
            fail(f"--plot {plot}: cannot write: {exc.strerror or exc}", code=1)
        doc["plot"] = plot
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    cadence_report.print_report(doc)
    if plot:
        typer.echo(f"chart written to {plot}")


def _with_observed(cfg):
    """The config with the database's observed history attached; as loaded when there is no database yet."""
    from watcher.engine import observed
    from watcher.store.db import StoreError, transaction
    from watcher.store.reader import NoDatabase, open_reader

    try:
        engine = open_reader(cfg.database)
        with transaction(engine) as session:
            return observed.attach(cfg, session)
    except NoDatabase:
        return cfg
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}")


PLOT_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}


def _plot_format(plot: str) -> str:
    """The file's extension decides the format: an .svg gets SVG, never PNG bytes under an SVG name."""
    import os.path

    extension = os.path.splitext(plot)[1].lower()
    if extension not in PLOT_FORMATS:
        fail(f"--plot {plot}: name the file .png, .svg or .pdf (the extension picks the format)")
    return PLOT_FORMATS[extension]


def _released(cfg, watch: str) -> bool | None:
    """Whether open weights were seen, from the database if there is one; None when nothing was polled yet.

    No database is normal here (the history comes from the config); one that cannot be read is an error."""
    from watcher.models import released
    from watcher.store import queries
    from watcher.store.db import StoreError, transaction
    from watcher.store.reader import NoDatabase
    from watcher.store.reader import open_reader as reader

    try:
        engine = reader(cfg.database)
        with transaction(engine) as session:
            if queries.watch_row(session, watch) is None:
                return None
            return released(queries.repos_of(session, watch))
    except NoDatabase:
        return None
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        fail(f"database {safe_url(cfg.database)}: {first_line(exc)}")


@app.command("check-config")
def check_config(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Validate the config and print what would be watched."""
    cfg = load_config(ctx)
    from watcher import notify
    from watcher.cli.views import print_config

    print_config(cfg, notify.destinations(cfg), notify.slack_warning(cfg))


notify_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Alert destinations: test them, requeue failed alerts.")
app.add_typer(notify_app, name="notify")


@notify_app.command("test")
def notify_test(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
    """Send a test message to every configured destination; exit 1 if any of them failed."""
    cfg = load_config(ctx, "ERROR")
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
def notify_retry(
    ctx: typer.Context,
    config: ConfigOption = None,
    log_level: LogLevelOption = None,
    verbose: VerboseOption = 0,
) -> None:
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
    """The command line (watcher/__main__.py is the console script's and `python -m watcher`'s entry)."""
    try:
        app(prog_name="watcher")
    finally:
        _before_exit()


def _before_exit() -> None:
    """Close the database, then exit without the interpreter's final garbage collection: it would walk every
    object the imports made (0.1-0.15 s for `poll`) only to free memory the process gives back as it ends.
    Objects in reference cycles are then not finalized, which Python never promised at exit and nothing here
    relies on: the console is flushed by the interpreter, logging's handlers by logging's atexit hook, and
    the engines are closed here (SQLite checkpoints its WAL, PostgreSQL ends its sessions, on the close)."""
    store = sys.modules.get("watcher.store.opened")  # loaded only if the command opened a database
    if store is not None:
        store.close_all()
    gc.freeze()


from watcher.cli.config import config_app  # noqa: E402
from watcher.cli.db import db_app  # noqa: E402

app.add_typer(config_app, name="config")
app.add_typer(db_app, name="db")

from watcher.cli.webhooks import webhooks_app  # noqa: E402

app.add_typer(webhooks_app, name="webhooks")
