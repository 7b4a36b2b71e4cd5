"""The command line: parse, call, print. Owns signal handling and exit codes.

`main` stays importable here so a console script generated before the CLI became a package
(`watcher.cli:main`) keeps working; the app itself loads only when called.
"""


def main() -> None:
    from watcher.cli.app import main as run

    run()
