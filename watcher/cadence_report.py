"""`watcher cadence`: a watch's release history, its window on both bases, and today's place in it.

`report` and `plot_data` are pure (config + today in, plain data out), so what the table and the chart show
is testable without a terminal or matplotlib; `print_report` only renders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from watcher.plaintext import markup_safe

from watcher import cadence
from watcher.config import Config, Watch


def pick_watch(config: Config, name: str | None) -> Watch:
    """The named watch, else the first with a cadence history, else the first; KeyError names the choices."""
    if name:
        return config.watch(name)
    return next((w for w in config.watches if w.history is not None), config.watches[0])


def _signed(days: int | None) -> str:
    return "-" if days is None else f"{days:+d}"


def report(watch: Watch, today: dt.date, released: bool | None = None) -> dict[str, Any]:
    """The data `watcher cadence` prints (and --json emits)."""
    effective = watch.expected()
    windows: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    if watch.history is not None:
        for basis in cadence.BASES:
            try:
                windows[basis] = cadence.history_window(watch, watch.history, watch.cadence, basis).to_dict()
            except cadence.CadenceError as exc:
                windows[basis] = {"error": str(exc)}
        for gen in cadence.history_lags(watch.history.history):
            rows.append({
                "generation": gen.generation,
                "own": cadence.own_generation(watch, gen),
                "flagship": {"name": gen.flagship, "released": _iso(gen.flagship_date)},
                "open_weights": [{"repo": repo, "released": day.isoformat(), "lag_from_flagship": lag}
                                 for (repo, day), (_, lag) in zip(gen.open_weights, gen.variant_lags)],
                "lag_from_flagship": gen.flagship_lag,
                "lag_from_previous_open_weights": gen.previous_lag,
                "previous_generation": gen.previous,
                "sources": list(gen.sources),
            })
    pos = effective.position(today, bool(released))
    return {
        "watch": watch.name, "title": watch.display_title, "cadence": watch.cadence,
        "flagship": {"name": watch.flagship.name, "released": watch.flagship.released.isoformat()},
        "history": rows, "window": effective.to_dict(), "history_windows": windows,
        "today": today.isoformat(), "released": released, **_where(pos, effective, today),
    }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _where(pos: cadence.Position, win: cadence.Window, today: dt.date) -> dict[str, Any]:
    if pos.days_until_window is not None:
        text = f"window opens in {pos.days_until_window} day(s)"
    elif today > win.end:
        text = f"{(today - win.end).days} day(s) after the window closed"
    else:
        text = f"inside the window: day {(today - win.start).days + 1} of {(win.end - win.start).days + 1}"
    return {"state": pos.state.value, "days_until_window": pos.days_until_window,
            "days_overdue": pos.days_overdue, "position": text}


def print_report(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or (Console() if Console().is_terminal else Console(width=200))
    doc = markup_safe(doc)  # generation names, repos and sources are data, never markup
    flagship = doc["flagship"]
    if doc["history"]:
        table = Table(title=f"Cadence {doc['cadence']} (lags in days; negative = open weights before the flagship)",
                      title_justify="left")
        for column in ("generation", "flagship", "flagship date", "open weights", "released",
                       "lag vs flagship", "lag vs previous open weights", "source"):
            table.add_column(column, justify="right" if column.startswith("lag") else "left",
                             overflow="fold" if column == "source" else "ellipsis")
        for row in doc["history"]:
            weights = row["open_weights"]
            prev = row["lag_from_previous_open_weights"]
            table.add_row(
                row["generation"] + (" (this watch)" if row["own"] else ""),
                row["flagship"]["name"] or "-", row["flagship"]["released"] or "-",
                "\n".join(w["repo"] for w in weights) or "-",
                "\n".join(w["released"] for w in weights) or "-",
                "\n".join(_signed(w["lag_from_flagship"]) for w in weights) or "-",
                f"{_signed(prev)} (from {row['previous_generation']})" if prev is not None else "-",
                "\n".join(row["sources"]) or "-",
            )
        table.add_row(f"{doc['watch']} (watched)", flagship["name"], flagship["released"],
                      "expected", f"{doc['window']['start']} to {doc['window']['end']}", "", "", "")
        console.print(table)
    else:
        console.print(f"{doc['watch']} names no cadence history: its window is its explicit lag_days.")
    win = doc["window"]
    console.print(f"Window for {doc['watch']}: [bold]{win['start']} to {win['end']}[/bold], most likely "
                  f"{win['median']} ({cadence.lag_range(win['lag_days']['min'], win['lag_days']['max'])} "
                  f"{win['anchor']['label']} {win['anchor']['date']}); basis {win['basis']}, from {win['source_label']}")
    for basis, other in doc["history_windows"].items():
        if "error" in other:
            console.print(f"  history on basis {basis}: {other['error']}", highlight=False)
            continue
        used = " (in use)" if other["start"] == win["start"] and other["end"] == win["end"] and \
            win["source"] == "cadence" and basis == win["basis"] else ""
        console.print(f"  history on basis {basis}{used}: {other['start']} to {other['end']}, most likely "
                      f"{other['median']} (lags {other['samples']} -> "
                      f"{other['lag_days']['min']}..{other['lag_days']['max']} days from {other['anchor']['label']} "
                      f"{other['anchor']['date']})", highlight=False)
    released = "" if doc["released"] is not None else " (no poll yet: release unknown)"
    console.print(f"Today {doc['today']}: {doc['state']} - {doc['position']}{released}")


@dataclass(frozen=True)
class PlotRow:
    label: str
    flagship: tuple[str, dt.date] | None
    open_weights: tuple[tuple[str, dt.date], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class PlotData:
    """Everything the chart draws; built from the config alone so a test can check it follows the config."""

    title: str
    rows: tuple[PlotRow, ...]
    window: tuple[dt.date, dt.date, dt.date]  # start, end, median
    window_label: str
    today: dt.date
    other_windows: tuple[tuple[str, dt.date, dt.date], ...] = field(default=())


def plot_data(watch: Watch, today: dt.date) -> PlotData:
    """One row per generation (oldest at the top), then the watched generation with its expected window."""
    win = watch.expected()
    rows = []
    if watch.history is not None:
        for gen in cadence.history_lags(watch.history.history):
            if cadence.own_generation(watch, gen):
                continue
            flag = (gen.flagship, gen.flagship_date) if gen.flagship and gen.flagship_date else None
            rows.append(PlotRow(gen.generation, flag, gen.open_weights,
                                f"{_signed(gen.flagship_lag)} d" if gen.flagship_lag is not None else ""))
    rows.append(PlotRow(f"{watch.name} (watched)", (watch.flagship.name, watch.flagship.released), (),
                        "expected"))
    others = []
    if watch.history is not None:
        for basis in cadence.BASES:
            try:
                other = cadence.history_window(watch, watch.history, watch.cadence, basis)
            except cadence.CadenceError:
                continue
            if (other.start, other.end) != (win.start, win.end):
                others.append((f"history, basis {basis}", other.start, other.end))
    label = f"expected window ({win.source_label}, basis {win.basis})"
    return PlotData(f"{watch.display_title}: release cadence", tuple(rows), (win.start, win.end, win.median),
                    label, today, tuple(others))
