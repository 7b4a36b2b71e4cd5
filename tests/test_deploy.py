"""deploy/: Kubernetes manifests (kubernetes-validate), alert rules and dashboard naming only metrics the
daemon exports, and the systemd unit (systemd-analyze where the machine has it)."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from watcher import config as config_mod
from watcher.daemon.metrics import Metrics
from watcher.store.schema import open_current

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests promise to work on
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
                "offset", "instance", "job"}
PROMETHEUS_OWN = {"up"}  # written by Prometheus for every scrape target, not by the daemon


def k8s_documents() -> list[tuple[Path, dict]]:
    return [(path, doc) for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str, name: str | None = None) -> list[dict]:
    return [d for _, d in k8s_documents() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def deployments() -> dict[str, dict]:
    return {p.stem: d for p, d in k8s_documents() if d["kind"] == "Deployment"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> set[str]:
    """Every series name the daemon's /metrics exposes (counters as name_total), read from a real registry."""
    tmp = tmp_path_factory.mktemp("metrics")
    cfg = config_mod.parse((ROOT / "config.yaml").read_text(), "config.yaml")
    cfg = cfg.model_copy(update={"database": f"sqlite:///{tmp / 'w.db'}"})
    metrics = Metrics(cfg, open_current(cfg.database))
    names = set()
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    assert "watcher_store_up" in names and "watcher_polls_total" in names
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or label names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    words = re.findall(r"\b([A-Za-z_:][A-Za-z0-9_:]*)\b(?!\s*\()", text)
    names = {w for w in words if w not in PROMQL_WORDS and not w.startswith("$")}
    return {re.sub(r"_bucket$", "", w) for w in names}  # a histogram's buckets are queried as NAME_bucket


# -- Kubernetes ----------------------------------------------------------------------------
def test_manifests_pass_kubernetes_validate():
    docs = k8s_documents()
    assert {d["kind"] for _, d in docs} >= {"Deployment", "PersistentVolumeClaim", "Secret", "ConfigMap", "Service"}
    for _path, doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises ValidationError naming the field
    broken = json.loads(json.dumps(by_kind("Deployment")[0]))
    broken["spec"]["replica"] = 1  # a typo the checker must catch, or it proves nothing
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_deployments_probe_with_status_check_and_run_as_the_image_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = int(re.search(r"ARG UID=(\d+)", dockerfile).group(1))
    grace = config_mod.Schedule().shutdown_timeout.total_seconds()
    found = deployments()
    assert set(found) == {"deployment-sqlite", "deployment-postgres"}
    for name, deployment in found.items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        for probe in ("readinessProbe", "livenessProbe"):
            assert container[probe]["exec"]["command"] == ["watcher", "status", "--check"], (name, probe)
        assert pod["securityContext"]["runAsUser"] == uid and pod["securityContext"]["fsGroup"] == uid
        assert pod["terminationGracePeriodSeconds"] > grace
        assert container["args"] == ["watcher", "run"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts["/data"] == "data" and mounts["/etc/watcher"] == "config"
        env = {e["name"]: e for e in container.get("env", [])}
        assert not any(re.search(r"(?i)token|secret|password", k) and "value" in v for k, v in env.items())
    sqlite, pg = found["deployment-sqlite"], found["deployment-postgres"]
    assert sqlite["spec"]["replicas"] == 1 and sqlite["spec"]["strategy"]["type"] == "Recreate"
    claim = next(v for v in sqlite["spec"]["template"]["spec"]["volumes"] if v["name"] == "data")
    assert by_kind("PersistentVolumeClaim", claim["persistentVolumeClaim"]["claimName"])
    assert pg["spec"]["replicas"] >= 2
    url = next(e for e in pg["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "WATCHER_DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"]["name"] == by_kind("Secret")[0]["metadata"]["name"]


def test_configmap_config_loads_and_serves_metrics_on_the_service_port():
    text = by_kind("ConfigMap", "watcher-config")[0]["data"]["config.yaml"]
    cfg = config_mod.parse(text, "configmap config.yaml")
    service = by_kind("Service", "watcher")[0]
    container = deployments()["deployment-sqlite"]["spec"]["template"]["spec"]["containers"][0]
    port = next(p for p in container["ports"] if p["name"] == service["spec"]["ports"][0]["targetPort"])
    assert cfg.metrics is not None and cfg.metrics.port == port["containerPort"] == service["spec"]["ports"][0]["port"]
    assert cfg.metrics.host == "0.0.0.0"  # reachable from the Service, not only inside the pod
    secret = by_kind("Secret")[0]
    assert all(value == "" for value in secret["stringData"].values()), "the example must not carry a secret"


# -- Prometheus rules and Grafana dashboard ---------------------------------------------------
def rules() -> list[dict]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "watcher-rules.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alert_rules_cover_the_failures_and_name_only_exported_metrics(exported):
    found = rules()
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule.get("alert")
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"] and re.fullmatch(r"\d+[smh]", rule["for"])
        names = metric_names(rule["expr"])
        assert names and names <= exported | PROMETHEUS_OWN, (rule["alert"], names - exported)
    used = {name for rule in found for name in metric_names(rule["expr"])}
    # store down, a source failing, an alert waiting too long, no successful poll
    assert {"watcher_store_up", "watcher_source_consecutive_failures", "watcher_delivery_oldest_pending_age_seconds",
            "watcher_source_last_success_timestamp_seconds"} <= used
    assert len({rule["alert"] for rule in found}) == len(found)


def test_dashboard_panels_query_exported_metrics(exported):
    dashboard = json.loads((DEPLOY / "grafana" / "watcher-dashboard.json").read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    queries = [t["expr"] for p in panels for t in p["targets"]]
    queries += [v["definition"].removeprefix("label_values(").split(",")[0]
                for v in dashboard["templating"]["list"] if v["type"] == "query"]
    for expr in queries:
        names = metric_names(expr)
        assert names and names <= exported, (expr, names - exported)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and panel["datasource"]["uid"] == "${datasource}"
    shown = {name for expr in queries for name in metric_names(expr)}
    missing = {n for n in exported if not n.endswith("_created")} - shown
    assert not missing, f"exported but on no panel: {missing}"


def test_metric_name_reader_sees_what_it_must():
    expr = 'time() - max by (watch, source) (watcher_x{job="a b", source=~"g.*"}[5m]) > 3600 and on(instance) up'
    assert metric_names(expr) == {"watcher_x", "up"}


# -- systemd ----------------------------------------------------------------------------------
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / "watcher.service").read_text())
    return parser


def test_systemd_unit_runs_the_daemon_with_secrets_from_a_file():
    service = unit()["Service"]
    assert service["ExecStart"].endswith("/bin/watcher run")
    assert service["RestartPreventExitStatus"] == "2"  # a config error does not loop
    assert service["KillSignal"] == "SIGTERM"
    stop = int(service["TimeoutStopSec"].rstrip("s"))
    assert stop > config_mod.Schedule().shutdown_timeout.total_seconds()
    assert service["EnvironmentFile"].lstrip("-").startswith("/etc/watcher/")
    text = (DEPLOY / "systemd" / "watcher.service").read_text()
    assert not re.search(r"(?im)^Environment=.*(TOKEN|WEBHOOK|PASSWORD)", text), "secrets go in the EnvironmentFile"
    assert service["User"] != "root" and service["ProtectSystem"] == "strict"


def test_systemd_analyze_verify(tmp_path):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not on this machine")
    text = (DEPLOY / "systemd" / "watcher.service").read_text().replace("/opt/watcher/bin/watcher", "/bin/true")
    good, bad = tmp_path / "watcher.service", tmp_path / "broken.service"
    good.write_text(text)
    bad.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run([tool, "verify", str(good)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    broken = subprocess.run([tool, "verify", str(bad)], capture_output=True, text=True, timeout=60)
    assert "restart specifier" in broken.stderr and "sometimes" in broken.stderr  # the checker reads the unit
