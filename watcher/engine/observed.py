"""Observed history: when a watch sees a variant's first weights, that date becomes history of its cadence.

Stored in the database (table observed_releases), so the next watch of the same cadence (`qwen3.8`) counts
what `qwen3.7` saw without anyone editing YAML. Configured generations win: an observed generation whose
flagship or name the YAML already lists is left out. `watcher cadence --export` prints the merged history.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from watcher.config import Cadence, Config, Generation, Watch
from watcher.forecast import variant_state as vs

if TYPE_CHECKING:  # `status` attaches rows it read through sqlite3, without importing SQLAlchemy
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def record(session: Session, watch: Watch, landings: Sequence[vs.Landing], now: dt.datetime) -> int:
    """Store each variant's first landing once (per cadence and watch); returns how many were new."""
    if not watch.cadence or not landings:
        return 0
    from sqlalchemy import select

    from watcher.store.tables import ObservedRelease

    known = {row.lower() for row in session.scalars(select(ObservedRelease.variant).where(
        ObservedRelease.cadence == watch.cadence, ObservedRelease.watch == watch.name))}
    added = 0
    for key, (label, item) in vs.first_by_variant(landings).items():
        if key in known or len(label) > 100:
            continue
        session.add(ObservedRelease(
            cadence=watch.cadence, watch=watch.name, flagship=watch.flagship.name[:200],
            flagship_released=watch.flagship.released.isoformat(), variant=label, repo=item.repo[:600],
            released=item.day.isoformat(), hub_created_at=(item.created_at or None) and item.created_at[:40],
            seen_at=now))
        added += 1
    return added


def generations(session: Session) -> dict[str, list[Generation]]:
    from sqlalchemy import select

    from watcher.store.tables import ObservedRelease

    return generations_from(session.scalars(select(ObservedRelease).order_by(ObservedRelease.id)))


def generations_from(rows: Iterable) -> dict[str, list[Generation]]:
    """cadence -> one Generation per watch that saw weights; a row that no longer validates is skipped.

    `rows`: observed_releases rows in id order (ORM objects or plain rows with the same fields)."""
    grouped: dict[tuple[str, str], list] = {}
    for row in rows:
        grouped.setdefault((row.cadence, row.watch), []).append(row)
    out: dict[str, list[Generation]] = {}
    for (cadence, watch), items in grouped.items():
        try:
            gen = Generation.model_validate({
                "generation": watch, "observed": True,
                "flagship": {"name": items[0].flagship, "released": items[0].flagship_released},
                "open_weights": [{"repo": r.repo, "released": r.released} for r in items],
            })
        except ValidationError as exc:
            log.warning("observed history of watch %s skipped: %s", watch, str(exc).splitlines()[0])
            continue
        out.setdefault(cadence, []).append(gen)
    return out


def merged(cadence: Cadence, extra: Sequence[Generation]) -> Cadence:
    """The cadence with observed generations the YAML does not already list (by flagship or name)."""
    names = {g.generation.lower() for g in cadence.history}
    flagships = {g.flagship.name.lower() for g in cadence.history if g.flagship}
    new = [g for g in extra if g.generation.lower() not in names
           and not (g.flagship and g.flagship.name.lower() in flagships)]
    return cadence.model_copy(update={"history": [*cadence.history, *new]}) if new else cadence


def attach(config: Config, session: Session) -> Config:
    """A copy of the config whose cadences include what was observed; the original is left as loaded."""
    return attach_found(config, generations(session))


def attach_found(config: Config, found: dict[str, list[Generation]]) -> Config:
    if not any(name in config.cadences for name in found):
        return config
    cadences = {name: merged(cad, found.get(name, [])) for name, cad in config.cadences.items()}
    return config.model_copy(update={"cadences": cadences})
