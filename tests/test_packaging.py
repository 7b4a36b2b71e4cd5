"""The distribution as the package index sees it: its own name, honest metadata, every direct import declared."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

import watcher
from watcher.store.db import StoreError, open_engine

ROOT = Path(__file__).resolve().parent.parent
DIST = "openweights-watcher"


def requirements() -> list[Requirement]:
    return [Requirement(line) for line in metadata.requires(DIST) or []]


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level() -> set[str]:
    """Top-level modules the package imports (anywhere, lazily too), stdlib and itself left out."""
    found: set[str] = set()
    for path in (ROOT / "watcher").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"watcher", "__future__"}


def test_name_version_and_license():
    meta = metadata.metadata(DIST)
    assert meta["Name"] == DIST
    assert watcher.__version__ == meta["Version"] == metadata.version(DIST)
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "Programming Language :: Python :: 3.11" in meta.get_all("Classifier")


def test_every_direct_import_is_declared():
    """httpx2, requests and urllib3 used to arrive only through other packages: a change there broke us."""
    declared = {norm(r.name) for r in requirements()}
    by_module = metadata.packages_distributions()
    missing = {}
    for module in sorted(imported_top_level()):
        dists = {norm(d) for d in by_module.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_heavy_and_optional_dependencies_are_extras():
    reqs = {norm(r.name): r for r in requirements()}
    plot = [r for r in requirements() if norm(r.name) == "matplotlib"]
    assert all(r.marker is not None for r in plot), "matplotlib must not be a base dependency"
    assert any('extra == "plot"' in str(r.marker) for r in plot)
    assert all(r.marker is not None for r in requirements() if norm(r.name) == "psycopg")
    hub = reqs["huggingface-hub"].specifier
    assert "2.4" in hub and "3.0" not in hub, "huggingface_hub bounded below its next major"
    for r in requirements():
        if r.marker is None:
            assert any(s.operator == ">=" for s in r.specifier), f"{r.name}: no lower bound"


def test_postgres_driver_hint_names_this_distribution(monkeypatch):
    """Without psycopg the error says which extra to install, under the name that installs this project."""
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the driver were not installed
    try:
        open_engine("postgresql+psycopg://u:pw@127.0.0.1:1/db")
    except StoreError as exc:
        message = str(exc)
    else:
        raise AssertionError("no StoreError without the driver")
    assert "pip install 'openweights-watcher[postgres]'" in message and "pw" not in message


def test_changelog_has_upgrade_notes_for_every_migration():
    """A migration without a line in CHANGELOG.md's upgrade notes is an upgrade nobody was told about."""
    changelog = (ROOT / "CHANGELOG.md").read_text()
    revisions = sorted(p.name.split("_")[0] for p in (ROOT / "watcher" / "migrations" / "versions").glob("0*.py"))
    assert revisions and all(f"**{rev}**" in changelog for rev in revisions), revisions
