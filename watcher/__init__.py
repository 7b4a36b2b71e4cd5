"""watcher: tells you the day a model family's open weights land, and loudly when they are late."""

from importlib import metadata as _metadata

DISTRIBUTION = "openweights-watcher"  # the name on the package index; `watcher` there is another project


def _version() -> str:
    """The installed distribution's version, so a release is numbered in one place (pyproject.toml).

    A source tree run without installing (PYTHONPATH=.) has no metadata: it says so instead of guessing.
    """
    try:
        return _metadata.version(DISTRIBUTION)
    except _metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
