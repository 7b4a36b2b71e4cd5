"""THE expected window of a watch, computed from the watch and the config's `cadences:`.

The config is data: a watch names its cadence and this module reads both (`cadence.history_of`), so
the config never imports the forecast. `checked` is the load-time cross-check that needs the math
(e.g. the only usable generation is the watch's own): the CLI calls it right after loading, so a
history that cannot give a window is still one config error line at start.
"""

from __future__ import annotations

from collections.abc import Mapping

from watcher.config import Cadence, Config, ConfigError, Watch
from watcher.forecast import basis as forecast
from watcher.forecast.cadence import (
    AUTO,
    BASES,
    CadenceError,
    Window,
    explicit_window,
    history_lags,
    history_of,
    own_generation,
)


def expected_window(watch: Watch, cadences: Mapping[str, Cadence]) -> Window:
    """Explicit lag_days win; else the named cadence's history on its basis. Every caller uses this one."""
    if watch.lag_days is not None:
        return explicit_window(watch)
    cadence = history_of(watch, cadences)
    if cadence is None:
        raise CadenceError(f"watch {watch.name}: no lag_days and no cadence named {watch.cadence!r}")
    return history_window(watch, cadence, watch.cadence)


def history_window(watch: Watch, cadence: Cadence, name: str | None = None, basis: str | None = None) -> Window:
    """The window the history predicts for the watch on a basis (default: the cadence's own; auto: the backtest's pick)."""
    basis = basis or cadence.basis
    if basis not in BASES + (AUTO,):
        raise CadenceError(f"unknown basis {basis!r} (use {', '.join(BASES + (AUTO,))})")
    gens = [g for g in history_lags(cadence.history) if not own_generation(watch, g)]
    if not gens:
        raise CadenceError(f"cadence {name or '?'}: every generation is the watch's own or newer (dated on or after "
                           f"{watch.flagship.name}, {watch.flagship.released}): nothing earlier to predict from")
    target = forecast.Target(watch.flagship.name, watch.flagship.released, tuple(watch.variants))
    params = forecast.Params.of(cadence)
    if basis == AUTO:
        win = forecast.auto_window(gens, target, params, name)
    else:
        win = forecast.with_track(forecast.predict(basis, gens, target, params, name), gens, params)
    try:
        return forecast.past_flagship(win, watch.flagship.released, watch.flagship.name, params, name)
    except OverflowError:
        raise CadenceError(forecast.beyond_calendar(name, win.basis)) from None


def checked(config: Config) -> Config:
    """The config, once every watch's window can be computed; else ConfigError naming the watch's field."""
    for index, watch in enumerate(config.watches):
        try:
            expected_window(watch, config.cadences)
        except ValueError as exc:  # CadenceError: e.g. the only usable generation is the watch's own
            raise ConfigError(f"{config.source_path}: watches[{index}].cadence: {exc}") from None
    return config
