"""Secrets over a full timeline: every command, both log formats, the database and what Slack received
are searched for the token values, while the APIs reject the tokens and echo them back in URLs and
error bodies (the way proxies, gateways and misbehaving servers do)."""

from __future__ import annotations

import json
import signal

import pytest
from daemon_proc import wait_for
from fakes.server import Response
from faultkit import Rig

# Shapes redact.py knows, and one it does not (a classic 40-hex GitHub token): the exact value must go too.
HF = "hf_SecretHubValue000111"
GH = "4f1c0ffee5e1ec7ed0b1e55ed0000deadbeef222"
BOT = "xoxb-1234-5678-SecretBotValue333"


def echo(status: int, key: str):
    """An error answer quoting the request's URL and Authorization header back, token included."""
    def make(req):
        auth = req.headers.get("Authorization", "")
        value = auth.split(" ")[-1]
        return Response(status, {key: f"denied {auth} for http://{req.headers.get('host')}{req.raw_path}"
                                      f"?access_token={value} (you sent: {value})"})
    return make


@pytest.mark.slow
def test_tokens_never_leave_the_process_over_a_full_timeline(hub, github, slack, tmp_path):
    rig = Rig(tmp_path, hub, github, slack)
    webhook = slack.webhook_url
    rig.env.update({"HF_TOKEN": HF, "GITHUB_TOKEN": GH, "SLACK_BOT_TOKEN": BOT, "SLACK_WEBHOOK_URL": webhook})
    secrets = [HF, GH, BOT, webhook, webhook.split("/services/")[1]]
    rig.config["schedule"]["alert_after_failures"] = 1  # the echoed errors also travel to Slack as alerts
    rig.save()
    hub.add_model("Qwen/Qwen3.7-1B", {"model.safetensors": 1})
    hub.inject(4, echo(500, "error"), "/api/models")
    github.valid_tokens = {"ghp_someoneelse000"}  # ours is rejected: 401 Bad credentials
    github.inject(3, echo(401, "message"), "/orgs/")
    outputs = []

    def cli(*args):
        result = rig.cli(*args)
        outputs.append(f"$ watcher {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}")
        return result

    cli("poll")
    cli("poll")
    for fmt in ("json", "text"):
        hub.inject(2, echo(503, "error"), "/api/models")
        runs = len(rig.sql("select id from poll_runs"))
        proc = rig.spawn("run", "--log-format", fmt)
        wait_for(lambda: len(rig.sql("select id from poll_runs where finished_at is not null")) >= runs + 2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, out + err
        outputs.append(out + err)
    slack.inject(1, lambda req: Response(200, {"ok": False, "error": "invalid_auth",
                                               "warning": f"token {req.bearer_token()} rejected"}),
                 "chat.postMessage")
    for args in (["notify", "test"], ["status"], ["status", "--json"], ["status", "--check"],
                 ["events", "--limit", "100"], ["events", "--json"], ["check-config"], ["notify", "test"]):
        cli(*args)
    rig.env.pop("SLACK_BOT_TOKEN")  # the webhook alone: it answers with its own URL in the body
    slack.inject(2, lambda req: Response(404, f"no_service {webhook}", content_type="text/html"), "/services/")
    hub.add_model("Qwen/Qwen3.7-2B", {"model.safetensors": 1})
    cli("notify", "test")
    cli("poll")
    cli("status")

    text = "\n".join(outputs)
    db = b"".join(p.read_bytes() for p in tmp_path.glob("watcher.db*")).decode("latin-1")
    sent = "\n".join(str(m["args"]) for m in slack.messages) + "\n".join(str(u["args"]) for u in slack.updates)
    # the faults really happened and were reported, so the search below means something
    assert "401 denied" in text and "500" in text
    assert "invalid_auth" in text and "no_service" in text
    json_log = next(o for o in outputs if o.lstrip().startswith("{"))
    assert [json.loads(line) for line in json_log.splitlines()]  # redaction left every line valid JSON
    assert "failing" in sent  # a source_failing alert carrying the error reached Slack
    for value in secrets:
        for where, blob in (("outputs", text), ("database", db), ("slack", sent)):
            assert value not in blob, f"{value[:8]}... leaked into the {where}"
