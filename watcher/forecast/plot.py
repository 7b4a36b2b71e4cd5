"""Timeline chart of a cadence (matplotlib, Agg). Imported only by `watcher cadence --plot`: matplotlib is heavy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display needed; must precede pyplot

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from watcher.forecast.report import PlotData

WIDTH, HEIGHT, DPI = 12, 6, 100  # 1200 x (600 + rows) pixels: readable on a screen and in Slack
HATCHES = ("//", "\\\\")


def render(data: PlotData, path: Path, fmt: str = "png") -> None:
    """Draw the chart into `path` as `fmt` (png, svg or pdf); the caller reports errors writing it."""
    fig, ax = plt.subplots(figsize=(WIDTH, max(HEIGHT, 2 + 0.7 * len(data.rows))), dpi=DPI)
    try:
        _draw(ax, data)
        fig.tight_layout()
        fig.savefig(path, format=fmt)
    finally:
        plt.close(fig)


def _draw(ax, data: PlotData) -> None:
    n = len(data.rows)
    y_of = {i: n - 1 - i for i in range(n)}  # oldest generation on top
    start, end, median = data.window
    ax.axvspan(start, end + dt.timedelta(days=1), color="tab:orange", alpha=0.25,
               label=f"{data.window_label}: {start} to {end}")
    ax.axvline(median, color="tab:orange", linestyle=":", linewidth=1.5, label=f"most likely {median}")
    watched = y_of[n - 1]
    ax.broken_barh([(start, end + dt.timedelta(days=1) - start)], (watched - 0.12, 0.24), color="tab:orange")
    for k, ((label, other_start, other_end), hatch) in enumerate(zip(data.other_windows, HATCHES)):
        # what the history predicts on the other bases: bars on the watched row, not full-height spans
        ax.broken_barh([(other_start, other_end + dt.timedelta(days=1) - other_start)],
                       (watched - 0.45 + 0.17 * k, 0.14), facecolor="none", edgecolor="tab:gray", hatch=hatch,
                       label=f"{label}: {other_start} to {other_end}")
    flag_done = weights_done = False
    for i, row in enumerate(data.rows):
        y = y_of[i]
        if row.flagship is not None:
            name, day = row.flagship
            ax.scatter([day], [y], marker="D", s=70, color="tab:red", zorder=3,
                       label=None if flag_done else "flagship (closed)")
            ax.annotate(name, (day, y), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=8)
            flag_done = True
        if row.open_weights:
            days = [day for _, day in row.open_weights]
            ax.scatter(days, [y] * len(days), marker="o", s=40, color="tab:blue", zorder=4,
                       label=None if weights_done else "open weights on the Hub")
            ax.hlines(y, min(days), max(days), color="tab:blue", linewidth=1)
            weights_done = True
            if row.note:
                ax.annotate(f"first open weights {row.note}", (min(days), y), textcoords="offset points",
                            xytext=(0, -14), ha="center", fontsize=7, color="tab:blue")
    ax.axvline(data.today, color="black", linewidth=1.2, label=f"today {data.today}")
    ax.set_yticks(range(n), [data.rows[n - 1 - y].label for y in range(n)])
    ax.set_ylim(-0.7, n - 0.4)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("release date")
    ax.set_ylabel("generation")
    ax.set_title(data.title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
