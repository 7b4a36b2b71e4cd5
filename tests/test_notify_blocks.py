"""Block Kit payloads: shape, Slack's limits and splitting, escaping; checked by the fake Slack too."""

from __future__ import annotations

from slack_sdk import WebClient

from watcher.notify import blocks as bk
from watcher.notify.render import build_message

GB = 1_000_000_000
CONTEXT = "Expected 2026-07-10 to 2026-07-18 (51-59 days after Qwen3.7-Max on 2026-05-20); day 53, inside the window now"


def weights(repo: str, size: float = 54.6, params: int | None = 27_300_000_000) -> dict:
    return {"kind": "weights_published", "source": "huggingface", "repo_id": repo,
            "data": {"url": f"https://huggingface.co/{repo}", "weights": True, "weight_files": 2,
                     "weight_bytes": int(size * GB), "params": params, "repo_id": repo}}


def texts(blocks: list[dict]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] in ("section", "header")]


def test_one_drop_is_one_message_with_header_lines_and_context():
    events = [weights("Qwen/Qwen3.7-27B"), weights("Qwen/Qwen3.7-27B-FP8", 28.1),
              weights("Qwen/Qwen3.7-8B-GGUF", 5.2, None)]
    message = build_message("qwen3.7", "Qwen 3.7 open-weight variants", events, CONTEXT)
    parts = bk.split(message.headline, message.items, message.context)
    assert len(parts) == 1 and parts[0].suffix == ""
    blocks = bk.blocks(parts[0])
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[0]["text"] == {"type": "plain_text", "text": "Qwen 3.7 open-weight variants: weights published"}
    lines = blocks[1]["text"]["text"].splitlines()
    assert lines == [
        "• Weights published: <https://huggingface.co/Qwen/Qwen3.7-27B|Qwen/Qwen3.7-27B> (54.6 GB, 27.3B params)",
        "• Weights published: <https://huggingface.co/Qwen/Qwen3.7-27B-FP8|Qwen/Qwen3.7-27B-FP8> "
        "(28.1 GB, 27.3B params, FP8)",
        "• Weights published: <https://huggingface.co/Qwen/Qwen3.7-8B-GGUF|Qwen/Qwen3.7-8B-GGUF> (5.2 GB, GGUF)",
    ]
    assert blocks[2]["elements"][0]["text"] == CONTEXT
    text = bk.fallback_text(parts[0])
    assert text.startswith("Qwen 3.7 open-weight variants: weights published\n- Weights published: Qwen/Qwen3.7-27B")


def test_header_says_what_happened():
    def headline(*events):
        return build_message("w", "W", list(events)).headline

    public = {"kind": "repo_appeared", "source": "github", "repo_id": "QwenLM/Qwen3.7",
              "data": {"was_hidden_status": 404, "url": "u"}}
    assert headline(public) == "W: repo public"
    assert headline({**public, "data": {"url": "u"}}) == "W: new repos"
    assert headline({"kind": "overdue", "data": {"summary": "late"}}) == "W: overdue"
    assert headline({"kind": "reminder", "data": {"summary": "still late"}}) == "W: still overdue (reminder)"
    assert headline({"kind": "window_opened", "data": {}}) == "W: release window opened"
    assert headline({"kind": "something_new", "data": {}}) == "W: something new"


def test_split_only_at_slack_limits_and_numbered():
    events = [weights(f"Qwen/Qwen3.7-{i}B-Instruct-2607-Preview-Long-Name") for i in range(400)]
    message = build_message("qwen3.7", "Qwen 3.7", events, CONTEXT)
    parts = bk.split(message.headline, message.items, message.context)
    assert len(parts) > 1
    seen = []
    for part in parts:
        blocks = bk.blocks(part)
        assert blocks[0]["text"]["text"] == f"Qwen 3.7: weights published ({part.index}/{len(parts)})"
        assert len(blocks) <= bk.MAX_BLOCKS
        assert all(len(t) <= bk.MAX_SECTION for t in texts(blocks))
        assert sum(len(t) for t in texts(blocks)) <= bk.MAX_TOTAL
        assert f"({part.index}/{len(parts)})" in bk.fallback_text(part)
        seen += [line for b in blocks[1:-1] for line in b["text"]["text"].splitlines()]
    assert len(seen) == 400 and len(set(seen)) == 400  # every repo exactly once, none lost
    full = sum(len(t) for p in parts[:-1] for t in texts(bk.blocks(p)))
    assert full > (len(parts) - 1) * bk.MAX_TOTAL * 0.9  # parts are packed, not split early


def test_section_and_total_limits():
    items = build_message("w", "W", [weights(f"Q/m{i}") for i in range(100)]).items
    for item in items:
        item.details = "y" * 60
    one = bk.split("W", items[:60])
    assert len(one) == 1 and len(bk.blocks(one[0])) == 4  # header + 60 lines packed into 3 sections
    two = bk.split("W", items)
    assert len(two) == 2  # 100 lines: over the cumulative limit, so two messages
    long = build_message("w", "W", [weights(f"Q/l{i}") for i in range(7)]).items
    for item in long:
        item.details = "x" * 2900  # each line needs a section of its own
    parts = bk.split("W", long)
    assert [len(p.items) for p in parts] == [3, 3, 1]
    assert all(len(t) <= bk.MAX_SECTION for p in parts for t in texts(bk.blocks(p)))


def test_escaping_api_text_never_pings():
    evil = "Qwen/<!channel>&<@U123>|x"
    event = weights(evil)
    event["data"]["url"] = "https://huggingface.co/Qwen/<!here>"
    message = build_message("w", "Team <!everyone> & co", [event], "ctx <@U9>")
    part = bk.split(message.headline, message.items, message.context)[0]
    payload = str(bk.blocks(part)) + bk.fallback_text(part)
    for mention in ("<!channel>", "<@U123>", "<!here>", "<!everyone>", "<@U9>"):
        assert mention not in payload
    section = bk.blocks(part)[1]["text"]["text"]
    assert "&lt;!channel&gt;&amp;&lt;@U123&gt;¦x>" in section  # the link label cannot end the link early
    assert bk.blocks(part)[0]["text"]["text"] == "Team &lt;!everyone&gt; &amp; co: weights published"


def test_fit_trims_an_edited_message_instead_of_splitting():
    items = build_message("w", "W", [weights(f"Q/m{i}") for i in range(200)]).items
    for item in items:
        item.status = "Weights published (54.6 GB, 27.3B params)" * 3
    part = bk.fit(bk.Part("W", items))
    assert part.more > 0 and len(part.items) + part.more == 200
    assert sum(len(t) for t in texts(bk.blocks(part))) <= bk.MAX_TOTAL
    assert f"… and {part.more} more" in bk.blocks(part)[-1]["text"]["text"]


def test_content_round_trip():
    message = build_message("w", "W", [weights("Q/a")], "ctx")
    part = bk.split(message.headline, message.items, message.context)[0]
    again = bk.from_content(bk.to_content(part))
    assert bk.blocks(again) == bk.blocks(part) and again.subjects == ["huggingface:Q/a"]


def test_fake_slack_accepts_every_part_and_refuses_oversized(slack):
    client = WebClient("xoxb-1", base_url=slack.url + "/api/")
    events = [weights(f"Qwen/Qwen3.7-{i}B-Instruct-2607-Preview-Long-Name") for i in range(400)]
    message = build_message("qwen3.7", "Qwen 3.7", events, CONTEXT)
    for part in bk.split(message.headline, message.items, message.context):
        assert client.chat_postMessage(channel="#a", text=bk.fallback_text(part), blocks=bk.blocks(part))["ok"]
    one = bk.Part("W", message.items)  # all 400 lines in one message: Slack would refuse it
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": t}}
                for t in bk._sections([bk.item_line(i) for i in one.items])][:49]
    try:
        client.chat_postMessage(channel="#a", text="x", blocks=sections)
    except Exception as exc:  # noqa: BLE001 - asserting the fake's answer
        assert exc.response["error"] == "msg_blocks_too_long"
    else:
        raise AssertionError("the fake accepted a message over the cumulative limit")


def slack_sdk_checked(blocks: list[dict]) -> None:
    """slack_sdk's own Block Kit models: parse, check their limits (validate_json), and round-trip unchanged."""
    from slack_sdk.models.blocks import Block

    assert len(blocks) <= 50
    parsed = Block.parse_all(blocks)
    assert all(b is not None for b in parsed), "a block type slack_sdk does not know"
    for block in parsed:
        block.validate_json()  # raises SlackObjectFormationError past a limit (header 150, section 3000, ...)
    assert [b.to_dict() for b in parsed] == blocks  # nothing we send is unknown to the models


def test_every_layout_passes_slack_sdk_models():
    """Small, split, hostile, summarised and trimmed messages all satisfy slack_sdk.models.blocks."""
    hostile = {"kind": "repo_appeared", "source": "github", "repo_id": "x/<!channel>|" + "y" * 400,
               "data": {"url": "https://github.com/x/<@U1>|" + "z" * 3000, "was_hidden_status": 404}}
    cases = [
        build_message("qwen3.7", "Qwen 3.7", [weights("Qwen/Qwen3.7-27B")], CONTEXT),
        build_message("qwen3.7", "Q" * 400, [weights(f"Qwen/Qwen3.7-{i}B-Long-Name") for i in range(400)], "c" * 5000),
        build_message("w", "Team <!everyone> & co", [hostile] * 30, "ctx <@U9>"),
        build_message("w", "W", [{"kind": "overdue", "data": {"summary": "late " * 2000}}]),
    ]
    for message in cases:
        parts = bk.split(message.headline, message.items, message.context)
        for part in parts:
            slack_sdk_checked(bk.blocks(part))
        trimmed = bk.fit(bk.from_content(bk.to_content(parts[0])))
        slack_sdk_checked(bk.blocks(trimmed))
