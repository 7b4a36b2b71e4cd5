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

from watcher.config import Cadence, Config, Watch
from watcher.forecast import basis as forecast
from watcher.forecast import cadence
from watcher.forecast import variants as vmod
from watcher.forecast.windows import expected_window, history_window
from watcher.plaintext import markup_safe


def pick_watch(config: Config, name: str | None) -> Watch:
    """The named watch, else the first with a cadence history, else the first; KeyError names the choices."""
    if name:
        return config.watch(name)
    return next((w for w in config.watches if cadence.history_of(w, config.cadences) is not None), config.watches[0])


def _signed(days: int | None) -> str:
    return "-" if days is None else f"{days:+d}"


def report(watch: Watch, cadences: dict[str, Cadence], today: dt.date, released: bool | None = None) -> dict[str, Any]:
    """The data `watcher cadence` prints (and --json emits)."""
    effective = expected_window(watch, cadences)
    history = cadence.history_of(watch, cadences)
    windows: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    previous_variants: tuple[str, dict] | None = None
    if history is not None:
        for basis in cadence.BASES:
            try:
                windows[basis] = history_window(watch, history, watch.cadence, basis).to_dict()
            except cadence.CadenceError as exc:
                windows[basis] = {"error": str(exc)}
        observed = {g.generation for g in history.history if g.observed}
        for gen in cadence.history_lags(history.history):
            rows.append({
                "generation": gen.generation,
                "observed": gen.generation in observed,
                "own": cadence.own_generation(watch, gen),
                "flagship": {"name": gen.flagship, "released": _iso(gen.flagship_date)},
                "open_weights": [{"repo": repo, "released": day.isoformat(), "lag_from_flagship": lag}
                                 for (repo, day), (_, lag) in zip(gen.open_weights, gen.variant_lags)],
                "lag_from_flagship": gen.flagship_lag,
                "lag_from_previous_open_weights": gen.previous_lag,
                "previous_generation": gen.previous,
                "sources": list(gen.sources),
                "variants": _variant_rows(gen, previous_variants),
            })
            if gen.open_weights:
                previous_variants = (gen.generation, forecast.by_variant(gen))
    pos = effective.position(today, bool(released))
    return {
        "watch": watch.name, "title": watch.display_title, "cadence": watch.cadence,
        "flagship": {"name": watch.flagship.name, "released": watch.flagship.released.isoformat()},
        "history": rows, "window": effective.to_dict(), "history_windows": windows,
        "today": today.isoformat(), "released": released, **_where(pos, effective, today, released is None),
    }


def export_yaml(name: str, history: Any) -> str:
    """The cadence's history, configured and observed, as YAML that can go back into config.yaml."""
    import yaml

    gens = sorted(history.history, key=lambda g: min([o.released for o in g.open_weights] or
                                                      [g.flagship.released if g.flagship else dt.date.max]))
    items = [g.model_dump(mode="json", exclude_defaults=True) for g in gens]
    head = (f"# cadence {name}: {sum(not g.observed for g in gens)} configured generation(s), "
            f"{sum(g.observed for g in gens)} observed by this watcher (observed: true)\n")
    return head + yaml.safe_dump({"history": items}, sort_keys=False, allow_unicode=True, width=120)


def _variant_rows(gen: cadence.GenerationLags, previous: tuple[str, dict] | None) -> list[dict[str, Any]]:
    """One row per variant (forms folded in), smallest first, with its step from the previous generation."""
    out = []
    for key, (label, day, repo) in sorted(forecast.by_variant(gen).items(), key=lambda kv: vmod.size_order(kv[1][0])):
        forms = [r for r, _ in gen.open_weights if vmod.variant_of(r).key == key and r != repo]
        before = previous[1].get(key) if previous else None
        out.append({
            "variant": label, "released": day.isoformat(), "repo": repo, "other_forms": forms,
            "lag_from_flagship": (day - gen.flagship_date).days if gen.flagship_date else None,
            "step_days": (day - before[1]).days if before else None,
            "step_from": previous[0] if before else None,
        })
    return out


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _where(pos: cadence.Position, win: cadence.Window, today: dt.date, unpolled: bool = False) -> dict[str, Any]:
    if pos.days_until_window is not None:
        text = f"window opens in {pos.days_until_window} day(s)"
    elif today > win.end:
        text = f"{(today - win.end).days} day(s) after the window closed"
    else:
        text = f"inside the window: day {(today - win.start).days + 1} of {(win.end - win.start).days + 1}"
    if unpolled:  # no poll has succeeded: whether weights exist is unknown, so is "overdue"
        return {"state": "unknown", "state_by_window": pos.state.value, "days_until_window": pos.days_until_window,
                "days_overdue": None, "position": text}
    return {"state": pos.state.value, "state_by_window": None, "days_until_window": pos.days_until_window,
            "days_overdue": pos.days_overdue, "position": text}


def print_report(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or (Console() if Console().is_terminal else Console(width=160))
    doc = markup_safe(doc)  # generation names, repos and sources are data, never markup
    if doc["history"]:
        console.print(_history_table(doc))
        console.print("Sources:")
        for row in doc["history"]:
            for url in row["sources"]:  # one per line: a wrapped URL cannot be copied
                console.print(f"  {row['generation']}: {url}", highlight=False, soft_wrap=True)
    else:
        console.print(f"{doc['watch']} names no cadence history: its window is its explicit lag_days.")
    win = doc["window"]
    console.print(f"Window for {doc['watch']}: [bold]{win['start']} to "
                  f"{win['end']}[/bold], most likely {win['median']}; basis {win['basis']}, from {win['source_label']}")
    for line in window_lines(win):
        console.print(line, highlight=False, soft_wrap=True)  # sentences: the terminal wraps them, not at 160
    for basis, other in doc["history_windows"].items():
        if "error" in other:
            console.print(f"  history on basis {basis}: {other['error']}", highlight=False)
            continue
        used = " (in use)" if other["start"] == win["start"] and other["end"] == win["end"] and \
            win["source"] == "cadence" and basis == win["basis"] else ""
        track = f"; {other['track']['clause']}" if other.get("track") else ""
        console.print(f"  history on basis {basis}{used}: {other['start']} to {other['end']}, most likely "
                      f"{other['median']} ({_basis_words(other)}){track}", highlight=False, soft_wrap=True)
    released = "" if doc["released"] is not None else \
        f" (no poll yet, so whether weights exist is unknown; by the window alone: {doc.get('state_by_window')})"
    console.print(f"Today {doc['today']}: {doc['state']} - {doc['position']}{released}")


def window_lines(win: dict[str, Any]) -> list[str]:
    """Why the window is where it is, per variant, with the backtest's record: lines a reader can check."""
    lines = []
    if win.get("reason"):
        lines.append(f"  why: {win['reason']}")
    for var in win.get("variants") or []:
        because = f"; {var['tolerance_reason']}" if var.get("tolerance_reason") else ""
        lines.append(f"  {var['variant']}: expected {var['start']} to {var['end']}, most likely {var['median']} "
                     f"({var['describe'].split(': ', 1)[1]}{because})")
    if win.get("track"):
        lines.append(f"  track record: {win['track']['clause']} (watcher cadence --backtest)")
    return lines


def _basis_words(win: dict[str, Any]) -> str:
    if win["basis"] == cadence.PER_VARIANT:
        return "; ".join(v["describe"] for v in win["variants"])
    return (f"lags {win['samples']} -> {win['lag_days']['min']}..{win['lag_days']['max']} days from "
            f"{win['anchor']['label']} {win['anchor']['date']}")


def _history_table(doc: dict[str, Any]) -> Table:
    """One row per variant: a table that fits 160 columns however many repos and sources a generation has."""
    table = Table(title=f"Cadence {doc['cadence']}: open weights per variant (days; negative = before the flagship)",
                  title_justify="left")
    for column in ("generation", "flagship", "variant", "released", "vs flagship", "vs same variant before", "repo"):
        table.add_column(column, justify="right" if column.startswith("vs") else "left",
                         overflow="fold", max_width={"repo": 34, "generation": 28}.get(column, 24))
    for row in doc["history"]:
        prev = row["lag_from_previous_open_weights"]
        gen = row["generation"] + (" (this watch or newer: left out)" if row["own"] else "") + (" (observed)" if row.get("observed") else "")
        if prev is not None:
            gen += f"\nfirst {_signed(prev)} (from {row['previous_generation']})"
        flag = f"{row['flagship']['name']}\n{row['flagship']['released']}" if row["flagship"]["name"] else "-"
        for i, var in enumerate(row["variants"] or [None]):
            if var is None:
                table.add_row(gen, flag, "-", "-", "-", "-", "-")
                continue
            step = f"{_signed(var['step_days'])} ({var['step_from']})" if var["step_days"] is not None else "-"
            forms = f" (+{len(var['other_forms'])} form{'s' if len(var['other_forms']) != 1 else ''})" \
                if var["other_forms"] else ""
            table.add_row(gen if i == 0 else "", flag if i == 0 else "", var["variant"], var["released"],
                          _signed(var["lag_from_flagship"]), step, var["repo"] + forms,
                          end_section=i == len(row["variants"]) - 1)
    table.add_row(f"{doc['watch']} (watched)", f"{doc['flagship']['name']}\n{doc['flagship']['released']}",
                  "expected", f"{doc['window']['start']}\nto {doc['window']['end']}", "", "", "")
    return table


def backtest_report(watch: Watch, cadences: dict[str, Cadence]) -> dict[str, Any]:
    """`watcher cadence --backtest`: every past generation predicted from the earlier ones, per basis."""
    history = cadence.history_of(watch, cadences)
    if history is None:
        return {"watch": watch.name, "cadence": None, "predictions": [], "scores": {}, "error": "no cadence history"}
    gens = [g for g in cadence.history_lags(history.history) if not cadence.own_generation(watch, g)]
    test = forecast.backtest(gens, forecast.Params.of(history))
    win = expected_window(watch, cadences)
    return {"watch": watch.name, "cadence": watch.cadence, "basis_in_use": win.basis, "reason": win.reason,
            "generations": len(gens), **test.to_dict(), "summary": _summary(test)}


def _summary(test: forecast.Backtest) -> str:
    best = [s for s in test.scores.values() if s.predicted]
    if not best:
        return "No generation has enough earlier history to be predicted: these windows have no track record."
    parts = [f"{s.basis} held {s.held} of {s.predicted} ({100 * s.held / s.predicted:.0f}%), most likely date off by "
             f"{s.mae:g} days on average" for s in best]
    return ("Forecasting a lab from a handful of generations is uncertain: " + "; ".join(parts) + ".")


def print_backtest(doc: dict[str, Any], console: Console | None = None) -> None:
    console = console or (Console() if Console().is_terminal else Console(width=160))
    doc = markup_safe(doc)  # generation names and repos are data, never markup
    if doc.get("error"):
        console.print(f"{doc['watch']}: {doc['error']}: nothing to backtest.")
        return
    table = Table(title=f"Backtest of cadence {doc['cadence']}: each generation predicted from the earlier ones only",
                  title_justify="left")
    for column in ("generation", "basis", "window", "days", "most likely", "actual", "held", "error"):
        table.add_column(column, justify="right" if column in ("days", "error") else "left")
    for pred in doc["predictions"]:
        table.add_row(pred["generation"], pred["basis"], f"{pred['start']} to {pred['end']}", str(pred["width_days"]),
                      pred["median"], pred["actual"] or "-", _held(pred["inside"]), _signed(pred["error_days"]))
        for var in pred["variants"]:
            table.add_row("", f"  {var['label']}", f"{var['start']} to {var['end']}", str(var["width_days"]),
                          var["median"], var["actual"] or "-", _held(var["inside"]), _signed(var["error_days"]))
    console.print(table)
    scores = Table(title="Per basis (error = actual minus most likely date)", title_justify="left")
    for column in ("basis", "generations", "held", "coverage", "mean width", "mean abs error", "variants held"):
        scores.add_column(column, justify="left" if column == "basis" else "right")
    for basis, sc in doc["scores"].items():
        cov = f"{100 * sc['coverage']:.0f}%" if sc["coverage"] is not None else "-"
        scores.add_row(basis, str(sc["generations_predicted"]), str(sc["held"]), cov,
                       f"{sc['mean_width_days']:g} d" if sc["mean_width_days"] is not None else "-",
                       f"{sc['mean_abs_error_days']:g} d" if sc["mean_abs_error_days"] is not None else "-",
                       f"{sc['variants_held']} of {sc['variants_predicted']}" if sc["variants_predicted"] else "-")
    console.print(scores)
    console.print(doc["summary"], highlight=False, soft_wrap=True)
    console.print(f"In use for {doc['watch']}: basis {doc['basis_in_use']}" +
                  (f" ({doc['reason']})" if doc["reason"] else ""), highlight=False, soft_wrap=True)


def _held(inside: bool | None) -> str:
    return "-" if inside is None else "yes" if inside else "no"


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


def plot_data(watch: Watch, cadences: dict[str, Cadence], today: dt.date) -> PlotData:
    """One row per generation (oldest at the top), then the watched generation with its expected window."""
    win = expected_window(watch, cadences)
    history = cadence.history_of(watch, cadences)
    rows = []
    if history is not None:
        for gen in cadence.history_lags(history.history):
            if cadence.own_generation(watch, gen):
                continue
            flag = (gen.flagship, gen.flagship_date) if gen.flagship and gen.flagship_date else None
            rows.append(PlotRow(gen.generation, flag, gen.open_weights,
                                f"{_signed(gen.flagship_lag)} d" if gen.flagship_lag is not None else ""))
    rows.append(PlotRow(f"{watch.name} (watched)", (watch.flagship.name, watch.flagship.released), (),
                        "expected"))
    others = []
    if history is not None:
        for basis in cadence.BASES:
            try:
                other = history_window(watch, history, watch.cadence, basis)
            except cadence.CadenceError:
                continue
            if (other.start, other.end) != (win.start, win.end):
                others.append((f"history, basis {basis}", other.start, other.end))
    label = f"expected window ({win.source_label}, basis {win.basis})"
    return PlotData(f"{watch.display_title}: release cadence", tuple(rows), (win.start, win.end, win.median),
                    label, today, tuple(others))
