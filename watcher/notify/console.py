"""Console notifier: the default when Slack is not configured, so alerts are never dropped."""

from __future__ import annotations

import sys
from typing import TextIO

from watcher.notify.base import Notifier
from watcher.notify.render import Message, plain_text
from watcher.plaintext import visible


class ConsoleNotifier(Notifier):
    destination = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: Message) -> str | None:
        stream = self.stream or sys.stdout
        stream.write(visible(plain_text(message), keep_newlines=True) + "\n")
        stream.flush()
        return None

    def test(self, watches: list[str]) -> str:
        (self.stream or sys.stdout).write(f"watcher test message: alerts for {', '.join(watches)} will be printed here\n")
        return "printed"
