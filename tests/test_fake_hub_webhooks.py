"""The fake Hub's webhook settings API round-trips through huggingface_hub's own calls (paths, shapes)."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError


def test_every_webhook_call_of_the_client_works_against_the_fake(hub):
    hub.add_org("Qwen")
    hub.add_user("someone")
    api = HfApi(endpoint=hub.url, token="hf_fakeToken1234")
    made = api.create_webhook(url="https://a.example/h", watched=[{"type": "org", "name": "Qwen"}],
                              domains=["repo"], secret="s" * 20)
    assert (made.url, made.domains, made.disabled, made.secret) == ("https://a.example/h", ["repo"], False, "s" * 20)
    assert [(w.type, w.name) for w in made.watched] == [("org", "Qwen")]
    assert [h.id for h in api.list_webhooks()] == [made.id]
    assert api.get_webhook(made.id).url == "https://a.example/h"
    changed = api.update_webhook(made.id, url="https://b.example/h", watched=[{"type": "user", "name": "someone"}])
    assert (changed.url, [w.name for w in changed.watched], changed.domains) == ("https://b.example/h", ["someone"],
                                                                                  ["repo"])
    assert api.disable_webhook(made.id).disabled is True and api.enable_webhook(made.id).disabled is False
    assert api.get_organization_overview("qwen").name == "Qwen" and api.get_user_overview("someone").username
    api.delete_webhook(made.id)
    assert api.list_webhooks() == []
    with pytest.raises(HfHubHTTPError) as info:
        api.get_webhook(made.id)
    assert info.value.response.status_code == 404
    with pytest.raises(HfHubHTTPError) as info:
        api.create_webhook(url="https://a.example/h", watched=[{"type": "galaxy", "name": "x"}])
    assert info.value.response.status_code == 400


def test_webhook_payloads_go_to_enabled_webhooks_watching_the_owner(hub):
    got = []
    from fakes.server import FakeServer, Response

    class Receiver(FakeServer):
        def handle(self, req):
            got.append((req.headers.get("X-Webhook-Secret"), req.body))
            return Response(200, {})

    with Receiver() as receiver:
        hub.add_model("Qwen/Qwen3.7-9B", ["model.safetensors"])
        hub.add_webhook(receiver.url + "/a", [{"type": "org", "name": "Qwen"}], "secret-a", domains=["repo"])
        hub.add_webhook(receiver.url + "/b", [{"type": "org", "name": "other"}], "secret-b")
        hub.add_webhook(receiver.url + "/c", [{"type": "org", "name": "Qwen"}], "secret-c", disabled=True)
        assert hub.send_webhooks("Qwen/Qwen3.7-9B", "update", "repo.content") == [200]
    ((secret, body),) = got
    assert secret == "secret-a"
    assert body["event"] == {"action": "update", "scope": "repo.content"}
    assert body["repo"]["name"] == "Qwen/Qwen3.7-9B" and body["repo"]["type"] == "model"
    assert body["repo"]["headSha"] == hub.get_model("Qwen/Qwen3.7-9B").sha == body["updatedRefs"][0]["newSha"]
