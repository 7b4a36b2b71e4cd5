"""`python -m watcher` and the `watcher` console script: the command line, in a process tuned for one command.

A command is a short process that mostly allocates what lives until it exits (modules, classes, the config,
the ORM's tables). At Python's default threshold (700 allocations) the collector runs about 190 times while
a quiet `watcher poll` starts, for 0.06-0.1 s, and frees next to nothing, so the threshold is raised before
the imports; `watcher run` gives the daemon Python's defaults back (cli/app.py).
"""

import gc

gc.set_threshold(20_000, 10, 10)

from watcher.cli.app import main  # noqa: E402 - after the threshold: imports are most of a command's allocations

if __name__ == "__main__":
    main()
