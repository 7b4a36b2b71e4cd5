"""The fake Hub and GitHub of the benchmarks, in a process of their own (no GIL shared with the watcher).

    python bench/world.py AUTHORS REPOS_PER_AUTHOR [--page-size N]

Prints one JSON line {"hub": url, "github": url}, then obeys one command per stdin line, answering
one line each: `latency SECONDS`, `reset` (forget the request log), `count` (requests since the last
reset, "hub github"), `quit`. The world: AUTHORS Hub authors Lab0..LabN, each with REPOS_PER_AUTHOR
models (every other one with a 2 GB safetensors file), and the shipped Qwen watch's repos on both sides.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakes import FakeGitHub, FakeHub


class StaticHub(FakeHub):
    """The fake Hub, each listing entry rendered once: the world does not change during a benchmark, and
    rendering all 5,000 entries for every page of 100 would make the fake, not the clients, the bottleneck."""

    @functools.lru_cache(maxsize=None)  # noqa: B019 - one fake per benchmark process, alive for all of it
    def _rendered(self, repo_id: str, expand: tuple, full: bool) -> dict:
        return FakeHub._list_item(self.models[repo_id], list(expand), full)

    def _list_item(self, model, expand, full):
        return self._rendered(model.repo_id, tuple(expand), full)


def build(hub: FakeHub, github: FakeGitHub, authors: int, repos: int) -> None:
    for a in range(authors):
        for r in range(repos):
            files = {"model.safetensors": 2_000_000_000, "README.md": 10} if r % 2 == 0 else {"README.md": 10}
            hub.add_model(f"Lab{a}/Model-{r}", files, params=7_000_000_000 if r % 2 == 0 else None)
    for r in range(4):
        hub.add_model(f"Qwen/Qwen3.7-{r}B", {"model.safetensors": 1000, "README.md": 10})
        github.add_repo(f"QwenLM/Qwen3.7-{r}")
    github.add_release("QwenLM/Qwen3.7-0", "v1.0")


def serve(hub: FakeHub, github: FakeGitHub) -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "latency":
            hub.latency = github.latency = float(args[0])
            answer = "ok"
        elif command == "reset":
            hub.reset_requests(), github.reset_requests()
            answer = "ok"
        elif command == "count":
            answer = f"{len(hub.requests)} {len(github.requests)}"
        elif command == "quit":
            return
        else:
            answer = f"error: unknown command {command!r}"
        print(answer, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("authors", type=int)
    parser.add_argument("repos", type=int)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    with StaticHub(page_size=args.page_size) as hub, FakeGitHub() as github:
        github.events_poll_interval = 0  # cycles are taken as spaced like a 15-minute daemon's
        build(hub, github, args.authors, args.repos)
        print(json.dumps({"hub": hub.url, "github": github.url}), flush=True)
        serve(hub, github)


if __name__ == "__main__":
    main()
