"""What every notifier shares: the error it raises and a base class whose optional hooks do nothing.

A new channel subclasses `Notifier` and implements `send`; the outbox calls every hook directly, so a
channel that needs no route filter, time budget, threads or backlog summary writes none of them.
Implementations import this module; the registry (`build` in the package) imports them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from watcher.notify.render import Message

if TYPE_CHECKING:
    from watcher.notify import blocks as bk


class DeliveryError(Exception):
    """The destination did not confirm the message; `reason` is safe to show and store.

    `permanent`: retrying cannot help (bad token, unknown channel). `payload`: only this message is at
    fault, so later messages to the same destination may still be tried. `code`: Slack's error code.
    """

    def __init__(self, reason: str, permanent: bool = False, payload: bool = False, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.payload = payload
        self.code = code


class Notifier:
    """One alert destination. `send` is required; every other hook has a default that does nothing.

    `max_age`: a backlog older than this becomes one summary message, posted with `post` (None: never
    summarised, each alert goes out by itself).
    """

    destination: str = ""
    max_age: dt.timedelta | None = None

    def send(self, message: Message) -> str | None:
        """Deliver or raise DeliveryError; return the destination's id for the message if it has one."""
        raise NotImplementedError

    def accepts(self, kind: str) -> bool:
        """Whether this destination's route takes events of `kind` (every kind by default)."""
        return True

    def start_cycle(self) -> None:
        """A delivery run begins: restart any per-cycle time budget."""

    def expired(self) -> bool:
        """Whether this cycle's time for this destination is used up (the rest waits for the next cycle)."""
        return False

    def deliver(self, message: Message, ledger: Any) -> str | None:
        """Send one outbox row; `ledger` (engine.delivery.Ledger) tells what an earlier attempt already sent."""
        return self.send(message)

    def post(self, part: bk.Part, thread_ts: str | None = None, broadcast: bool = False,
             key: str | None = None) -> tuple[str | None, str | None]:
        """One standalone message (the backlog summary); only called when `max_age` is set."""
        raise DeliveryError(f"{self.destination}: cannot post a summary", permanent=True)

    def test(self, watches: list[str]) -> str:
        """`watcher notify test`: reach the destination now; return a few words on how it went."""
        text = f"watcher test message: alerts for {', '.join(watches)} will arrive here."
        return self.send(Message("test", "watcher", [], headline=text)) or "sent"
