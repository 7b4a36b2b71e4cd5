"""Detection is a pure function: table-style cases over previous/current snapshots."""

from __future__ import annotations

from watcher.engine.detect import detect
from watcher.models import EventKind, RepoSnapshot, SourceReport

HF_SCOPE = "hf:author:qwen"


def snap(repo_id="Qwen/Qwen3.7-27B", visible=True, weights=(), scope=HF_SCOPE, source="huggingface", **kw):
    return RepoSnapshot(source, repo_id, scope, visible=visible, weight_files=tuple(weights), **kw)


def report(*snaps, complete=(HF_SCOPE,), source="huggingface"):
    return SourceReport(source, repos=list(snaps), complete_scopes=set(complete))


def kinds(detection):
    return [(e.kind, e.repo_id) for e in detection.events]


def test_first_cycle_is_a_silent_baseline_with_one_summary():
    d = detect("w", {}, [report(snap(weights=["a.safetensors"]), snap("Qwen/Qwen3.7-9B"))], set())
    assert kinds(d) == [(EventKind.WATCH_STARTED, None)]
    started = d.events[0].data
    assert [v["repo_id"] for v in started["visible"]] == ["Qwen/Qwen3.7-27B", "Qwen/Qwen3.7-9B"]
    assert d.baselined_scopes == {HF_SCOPE}
    assert {s.repo_id for s in d.snapshots.values()} == {"Qwen/Qwen3.7-27B", "Qwen/Qwen3.7-9B"}


def test_placeholder_then_weights():
    d1 = detect("w", {}, [report(snap())], {HF_SCOPE})
    assert kinds(d1) == [(EventKind.REPO_APPEARED, "Qwen/Qwen3.7-27B")]
    d2 = detect("w", d1.snapshots, [report(snap(weights=["model.safetensors"]))], {HF_SCOPE})
    assert kinds(d2) == [(EventKind.WEIGHTS_PUBLISHED, "Qwen/Qwen3.7-27B")]
    d3 = detect("w", d2.snapshots, [report(snap(weights=["model.safetensors"]))], {HF_SCOPE})
    assert d3.events == []


def test_repo_appearing_with_weights_gives_both_events():
    d = detect("w", {}, [report(snap(weights=["m.gguf"]))], {HF_SCOPE})
    assert [e.kind for e in d.events] == [EventKind.REPO_APPEARED, EventKind.WEIGHTS_PUBLISHED]


def test_missing_from_successful_listing_is_hidden_but_from_failed_listing_is_unknown():
    prev = {"huggingface:Qwen/Qwen3.7-27B": snap()}
    failed = detect("w", prev, [report(complete=())], {HF_SCOPE})
    assert failed.events == []
    assert failed.snapshots["huggingface:qwen/qwen3.7-27b"].visible
    gone = detect("w", prev, [report()], {HF_SCOPE})
    assert kinds(gone) == [(EventKind.REPO_HIDDEN, "Qwen/Qwen3.7-27B")]
    assert not gone.snapshots["huggingface:qwen/qwen3.7-27b"].visible


def test_flapping_repo_has_same_dedup_key_for_same_state():
    first = detect("w", {}, [report(snap(sha="abc"))], {HF_SCOPE})
    hidden = detect("w", first.snapshots, [report()], {HF_SCOPE})
    back = detect("w", hidden.snapshots, [report(snap(sha="abc"))], {HF_SCOPE})
    assert back.events[0].dedup_key == first.events[0].dedup_key
    changed = detect("w", hidden.snapshots, [report(snap(sha="def"))], {HF_SCOPE})
    assert changed.events[0].dedup_key != first.events[0].dedup_key


def test_github_repo_turning_public_and_release():
    scope = "gh:repo:qwenlm/qwen3.7"
    hidden = snap("QwenLM/Qwen3.7", visible=False, scope=scope, source="github", status=404)
    public = snap("QwenLM/Qwen3.7", scope=scope, source="github", releases=("v1.0",), tags=("v1.0",))
    prev = {hidden.key: hidden}
    d = detect("w", prev, [report(public, complete=(scope,), source="github")], {scope})
    assert kinds(d) == [(EventKind.REPO_APPEARED, "QwenLM/Qwen3.7")]
    assert d.events[0].data["was_hidden_status"] == 404
    assert d.events[0].data["latest_release"] == "v1.0"
    newer = snap("QwenLM/Qwen3.7", scope=scope, source="github", releases=("v1.1", "v1.0"), tags=("v1.1", "v1.0", "t2"))
    d2 = detect("w", d.snapshots, [report(newer, complete=(scope,), source="github")], {scope})
    assert [(e.kind, e.data["tag"], e.data["type"]) for e in d2.events] == [
        (EventKind.RELEASE_PUBLISHED, "v1.1", "release"),
        (EventKind.RELEASE_PUBLISHED, "t2", "tag"),
    ]


def test_gating_change():
    prev = {"huggingface:Qwen/Qwen3.7-27B": snap(sha="1")}
    d = detect("w", prev, [report(snap(sha="1", gated="manual"))], {HF_SCOPE})
    assert [(e.kind, e.data["after"]) for e in d.events] == [(EventKind.GATING_CHANGED, "manual")]


def test_new_scope_is_baselined_silently_even_on_a_known_watch():
    new_scope = "hf:author:someone"
    d = detect("w", {}, [report(snap("someone/X", scope=new_scope), complete=(new_scope,))], {HF_SCOPE})
    assert d.events == []
    assert d.baselined_scopes == {HF_SCOPE, new_scope}


def test_hidden_to_hidden_and_absent_repos_produce_nothing():
    scope = "hf:repo:qwen/qwen3.7-plus"
    hidden = snap("Qwen/Qwen3.7-Plus", visible=False, scope=scope, status=401)
    d = detect("w", {hidden.key: hidden}, [report(hidden, complete=(scope,))], {scope})
    assert d.events == []

