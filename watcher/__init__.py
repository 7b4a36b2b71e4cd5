"""watcher: tells you the day a model family's open weights land, and loudly when they are late."""

__version__ = "0.1.0"
