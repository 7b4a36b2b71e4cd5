"""Console notifier: the default when Slack is not configured, so alerts are never dropped."""

from __future__ import annotations

import sys
from typing import TextIO

from watcher.notify.render import Message, plain_text


class ConsoleNotifier:
    destination = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def send(self, message: Message) -> str | None:
        stream = self.stream or sys.stdout
        stream.write(plain_text(message) + "\n")
        stream.flush()
        return None
