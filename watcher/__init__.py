"""watcher: tells you the day a model family's open weights land, and loudly when they are late."""

DISTRIBUTION = "openweights-watcher"  # the name on the package index; `watcher` there is another project


def _version() -> str:
    """The installed distribution's version, so a release is numbered in one place (pyproject.toml).

    A source tree run without installing (PYTHONPATH=.) has no metadata: it says so instead of guessing.
    """
    from importlib import metadata  # with csv and email: a fifth of `status --check`'s imports, so on use only

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> str:
    """`watcher.__version__`, looked up the first time something asks (the HTTP clients' User-Agent, --version)."""
    if name == "__version__":
        value = globals()["__version__"] = _version()
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
