"""Fake of the Hugging Face Hub model API, faithful to /work/shared/API-NOTES.md.

Why so strict: huggingface_hub maps errors from headers (`X-Error-Code`, `X-Error-Message`), not
from status codes, and only on https URLs falls back to "401 means not found". So every error
here carries the exact headers the real Hub sends, or the client would raise the wrong exception.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .hub_webhooks import HubWebhooks
from .server import FakeServer, Request, Response, to_datetime, utcnow

HUB_EPOCH = "2022-03-02T23:29:04.000Z"  # createdAt of repos older than the Hub's creation dates
INVALID_TOKEN = "Invalid credentials in Authorization header"
DISABLED = "Access to this resource is disabled."
EXPANDABLE = {
    "author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt", "disabled",
    "downloads", "downloadsAllTime", "evalResults", "gated", "gguf", "inference",
    "inferenceProviderMapping", "lastModified", "library_name", "likes", "mask_token", "model-index",
    "pipeline_tag", "private", "resourceGroup", "safetensors", "sha", "siblings", "spaces", "tags",
    "transformersInfo", "trendingScore", "usedStorage", "widgetData",
}
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth", ".onnx", ".h5", ".msgpack", ".zip")
_ids = itertools.count(0x65F000000000000000000000)


def hub_time(dt: datetime) -> str:
    """The Hub's timestamp format: milliseconds and a Z, e.g. 2026-01-02T03:04:05.000Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _norm_files(files: Any) -> dict[str, int]:
    if files is None:
        return {}
    if isinstance(files, dict):
        return {str(p): int(s) for p, s in files.items()}
    return {str(p): 1000 for p in files}


@dataclass
class HubModel:
    """State of one model repo; the JSON views are built from it on every request."""

    repo_id: str
    files: dict[str, int]
    private: bool = False
    gated: bool | str = False
    disabled: bool = False
    created_at: datetime = field(default_factory=utcnow)
    last_modified: datetime = field(default_factory=utcnow)
    sha: str = ""
    params: int | dict[str, int] | None = None
    downloads: int = 0
    likes: int = 0
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # any other JSON field (pipeline_tag...)
    object_id: str = field(default_factory=lambda: f"{next(_ids):024x}")

    def fields(self, blobs: bool = False) -> dict[str, Any]:
        """Every field model_info can return (before `expand=` selection)."""
        siblings = [{"rfilename": p} for p in sorted(self.files)]
        if blobs:
            siblings = [{**s, **_blob_meta(s["rfilename"], self.files[s["rfilename"]])} for s in siblings]
        out: dict[str, Any] = {
            "_id": self.object_id, "id": self.repo_id, "author": self.repo_id.split("/")[0],
            "sha": self.sha, "lastModified": hub_time(self.last_modified), "private": self.private,
            "gated": self.gated, "disabled": self.disabled, "downloads": self.downloads,
            "downloadsAllTime": self.downloads, "likes": self.likes, "trendingScore": 0,
            "tags": list(self.tags), "createdAt": hub_time(self.created_at), "modelId": self.repo_id,
            "siblings": siblings, "spaces": [], "usedStorage": sum(self.files.values()),
        }
        if self.params is not None:
            params = self.params if isinstance(self.params, dict) else {"BF16": int(self.params)}
            out["safetensors"] = {"parameters": dict(params), "total": sum(params.values())}
        out.update(self.extra)
        return out


def _blob_meta(path: str, size: int) -> dict[str, Any]:
    """Per-file metadata (`blobs=true` siblings); LFS info for weight-like or large files."""
    meta: dict[str, Any] = {"size": size, "blobId": _sha1(f"blob {path} {size}")}
    if path.endswith(LFS_SUFFIXES) or size >= 10 * 1024 * 1024:
        meta["lfs"] = {"size": size, "sha256": hashlib.sha256(f"{path}:{size}".encode()).hexdigest(),
                       "pointerSize": 134}
    return meta


class FakeHub(HubWebhooks, FakeServer):
    """Local Hub: `/api/models`, `/api/models/{id}[/revision/{rev}]`, `/api/models/{id}/tree/{rev}`,
    and the webhook settings API (see watcher/cli/hub_webhooks.py)."""

    def __init__(self, page_size: int = 1000) -> None:
        super().__init__()
        self._init_webhooks()
        self.models: dict[str, HubModel] = {}
        self.valid_tokens: set[str] = set()  # empty: any token is accepted
        self.private_access_tokens: set[str] = set()  # tokens that may see private repos
        self.page_size = page_size
        self.endless_pages = False  # every listing page links to a next one with one new model (a Link loop)
        self.link_base: str | None = None  # `Link: rel="next"` points at this base URL (another host) instead

    # -- state -----------------------------------------------------------------------------
    def add_model(self, repo_id: str, files: Any = None, *, private: bool = False,
                  gated: bool | str = False, disabled: bool = False, created_at: Any = None,
                  last_modified: Any = None, sha: str | None = None, params: Any = None,
                  downloads: int = 0, likes: int = 0, tags: list[str] | None = None,
                  extra: dict[str, Any] | None = None) -> HubModel:
        """Create (or replace) a model repo. `files`: {path: size} or a list of paths (size 1000)."""
        created = to_datetime(created_at) or utcnow()
        model = HubModel(
            repo_id=repo_id, files=_norm_files(files), private=private, gated=_gated(gated),
            disabled=disabled, created_at=created, last_modified=to_datetime(last_modified) or created,
            params=params, downloads=downloads, likes=likes, tags=list(tags or []), extra=dict(extra or {}),
        )
        model.sha = sha or _sha1(f"{repo_id}:{sorted(model.files.items())}:{model.object_id}")
        with self.lock:
            if (old := self.get_model(repo_id)) is not None:
                del self.models[old.repo_id]
            self.models[repo_id] = model
        return model

    def update_model(self, repo_id: str, **changes: Any) -> HubModel:
        """Change fields of a model (same names as add_model); `files=` behaves like set_files."""
        with self.lock:
            model = self._must_get(repo_id)
            if "files" in changes:
                self.set_files(repo_id, changes.pop("files"), sha=changes.pop("sha", None),
                               last_modified=changes.pop("last_modified", None))
            for key, value in changes.items():
                if key in ("created_at", "last_modified"):
                    value = to_datetime(value) or getattr(model, key)
                elif key == "gated":
                    value = _gated(value)
                elif not hasattr(model, key) or key in ("repo_id", "object_id"):
                    raise TypeError(f"unknown model field {key!r}")
                setattr(model, key, value)
            return model

    def set_files(self, repo_id: str, files: Any, *, sha: str | None = None,
                  last_modified: Any = None) -> HubModel:
        """Replace the files, as a new commit would: new sha and lastModified."""
        with self.lock:
            model = self._must_get(repo_id)
            model.files = _norm_files(files)
            model.sha = sha or _sha1(f"{model.sha}:{sorted(model.files.items())}")
            model.last_modified = to_datetime(last_modified) or utcnow()
            return model

    def remove_model(self, repo_id: str) -> None:
        with self.lock:
            del self.models[self._must_get(repo_id).repo_id]

    def get_model(self, repo_id: str) -> HubModel | None:
        """Look a repo up case-insensitively, like the Hub does."""
        with self.lock:
            if repo_id in self.models:
                return self.models[repo_id]
            low = repo_id.lower()
            return next((m for k, m in self.models.items() if k.lower() == low), None)

    def _must_get(self, repo_id: str) -> HubModel:
        if (model := self.get_model(repo_id)) is None:
            raise KeyError(repo_id)
        return model

    def rate_limit_next(self, n: int = 1, retry_after: int = 60, path_contains: str | None = None) -> None:
        """The next n requests get 429 with the Hub's RateLimit / RateLimit-Policy / Retry-After."""
        def make(req: Request) -> Response:
            quota = 1000 if req.bearer_token() else 500
            return _error(429, f"Rate limit reached: you exceeded the 'api' limit, retry in {retry_after}s",
                          {"RateLimit": f'"api";r=0;t={retry_after}',
                           "RateLimit-Policy": f'"fixed window";"api";q={quota};w=300',
                           "Retry-After": str(retry_after)})
        self.inject(n, make, path_contains)

    # -- HTTP ------------------------------------------------------------------------------
    def error_response(self, status: int, req: Request) -> Response:
        if status == 500:  # the app's own 500 is JSON; 502/503/504 come from the CDN as HTML
            return _error(500, "Internal Error - We're working hard to fix this as soon as possible!")
        return super().error_response(status, req)

    def finalize(self, req: Request, resp: Response) -> Response:
        resp.headers.setdefault("X-Request-Id", f"Root=1-{len(self.requests):08x}-fake")
        return resp

    def handle(self, req: Request) -> Response:
        token = req.bearer_token()
        if token is not None and self.valid_tokens and token not in self.valid_tokens:
            return _error(401, INVALID_TOKEN, {"X-Error-Message": INVALID_TOKEN})
        segs = [unquote(s) for s in urlsplit(req.raw_path).path.split("/")[1:]]
        if segs[:2] != ["api", "models"] and (answer := self._webhook_route(req, segs)) is not None:
            return answer
        if req.method not in ("GET", "HEAD") or segs[:2] != ["api", "models"]:
            return _error(404, "Sorry, we can't find the page you are looking for.")
        rest = segs[2:]
        with self.lock:
            if not rest or rest == [""]:
                return self._list_models(req)
            repo_id, tail = "/".join(rest[:2]), rest[2:]
            if not tail:
                return self._model_info(req, repo_id, None)
            if tail[0] == "revision" and len(tail) == 2:
                return self._model_info(req, repo_id, tail[1])
            if tail[0] == "tree" and len(tail) >= 2:
                return self._tree(req, repo_id, tail[1], "/".join(tail[2:]).strip("/"))
        return _error(404, "Sorry, we can't find the page you are looking for.")

    def _list_models(self, req: Request) -> Response:
        expand = req.query_list("expand")
        if bad := [e for e in expand if e not in EXPANDABLE]:
            return _error(400, f'"expand" must be one of {sorted(EXPANDABLE)} (got {bad})')
        models = [m for m in self.models.values() if not m.private]
        if author := req.query_value("author"):
            models = [m for m in models if m.repo_id.split("/")[0].lower() == author.lower()]
        if search := req.query_value("search"):
            models = [m for m in models if search.lower() in m.repo_id.lower()]
        for tag in req.query_list("filter"):
            models = [m for m in models if tag in m.tags]
        if (gated := req.query_value("gated")) is not None:
            models = [m for m in models if bool(m.gated) == (gated == "true")]
        sort = req.query_value("sort")
        keys = {"createdAt": "created_at", "lastModified": "last_modified", "downloads": "downloads",
                "likes": "likes"}
        if sort in keys:  # the Hub sorts descending; the client has no `direction`
            models.sort(key=lambda m: getattr(m, keys[sort]), reverse=True)
        full = req.query_value("full") in ("true", "True", "1")
        items = [self._list_item(m, expand, full) for m in models]
        size = self.page_size
        if (limit := req.query_value("limit")) and limit.isdigit():
            size = max(1, min(size, int(limit)))
        return self._paged(req, items, size)

    @staticmethod
    def _list_item(model: HubModel, expand: list[str], full: bool) -> dict[str, Any]:
        data = model.fields()
        if expand:
            keys = ["_id", "id", *expand]
        else:
            keys = ["_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
                    "pipeline_tag", "library_name", "createdAt", "modelId"]
            if full:
                keys += ["author", "sha", "lastModified", "gated", "disabled", "siblings"]
        return {k: data[k] for k in keys if k in data}

    def _paged(self, req: Request, items: list, size: int) -> Response:
        """Cursor pagination with a `Link: <...>; rel="next"` built from this fake's own URL."""
        cursor = req.query_value("cursor")
        start = int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1]) if cursor else 0
        page, headers = items[start:start + size], {}
        if self.endless_pages:  # a new made-up model on every page, so the client never sees a repeat
            base = dict(items[0]) if items else {"_id": "0", "id": "someone/x"}
            page = [{**base, "_id": f"{start:024x}", "id": f"{base['id']}-p{start}"}]
        if start + size < len(items) or self.endless_pages:
            pairs = [(k, v) for k, v in parse_qsl(urlsplit(req.raw_path).query, keep_blank_values=True)
                     if k != "cursor"]
            path = quote(urlsplit(req.raw_path).path, safe="/%")
            nxt = base64.urlsafe_b64encode(f"offset:{start + (1 if self.endless_pages else size)}".encode()).decode()
            host = self.link_base.rstrip("/") if self.link_base else self.url
            headers["Link"] = f'<{host}{path}?{urlencode(pairs + [("cursor", nxt)])}>; rel="next"'
        return Response(200, page, headers)

    def _access(self, req: Request, repo_id: str) -> tuple[HubModel | None, Response | None]:
        """The Hub's error table: missing/private 401|404 RepoNotFound, disabled 401|403."""
        token = req.bearer_token()
        model = self.get_model(repo_id)
        hidden = model is None or (model.private and token not in self.private_access_tokens)
        if hidden or (model.disabled and token is None):
            return None, _error(401 if token is None else 404, "Repository not found",
                                {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        if model.disabled:
            return None, _error(403, DISABLED, {"X-Error-Message": DISABLED})
        return model, None

    def _model_info(self, req: Request, repo_id: str, revision: str | None) -> Response:
        model, err = self._access(req, repo_id)
        if err:
            return err
        if revision is not None and revision not in ("main", model.sha):
            return _error(404, f"Invalid rev id: {revision}", {"X-Error-Code": "RevisionNotFound"})
        expand = req.query_list("expand")
        if bad := [e for e in expand if e not in EXPANDABLE]:
            return _error(400, f'"expand" must be one of {sorted(EXPANDABLE)} (got {bad})')
        data = model.fields(blobs=req.query_value("blobs") in ("true", "True", "1"))
        if expand:
            data = {k: data[k] for k in ["_id", "id", *expand] if k in data}
        return Response(200, data)

    def _tree(self, req: Request, repo_id: str, revision: str, prefix: str) -> Response:
        model, err = self._access(req, repo_id)
        if err:
            return err
        if revision not in ("main", model.sha):
            return _error(404, f"Invalid rev id: {revision}", {"X-Error-Code": "RevisionNotFound"})
        recursive = req.query_value("recursive") in ("true", "True", "1")
        expand = req.query_value("expand") in ("true", "True", "1")
        dirs = {"/".join(p.split("/")[:i]) for p in model.files for i in range(1, p.count("/") + 1)}
        if prefix and prefix not in dirs:
            if prefix in model.files:  # a file path lists as itself
                return Response(200, [self._entry(model, prefix, expand)])
            return _error(404, f'{prefix} does not exist on "{revision}"', {"X-Error-Code": "EntryNotFound"})
        base = f"{prefix}/" if prefix else ""
        paths = [p for p in sorted(dirs | set(model.files)) if p.startswith(base)
                 and (recursive or "/" not in p[len(base):])]
        entries = [self._entry(model, p, expand) for p in paths]
        return self._paged(req, entries, min(self.page_size, 50 if expand else 1000))

    @staticmethod
    def _entry(model: HubModel, path: str, expand: bool) -> dict[str, Any]:
        if path not in model.files:
            entry: dict[str, Any] = {"type": "directory", "oid": _sha1(f"tree {path} {model.sha}"),
                                     "size": 0, "path": path}
        else:
            meta = _blob_meta(path, model.files[path])
            entry = {"type": "file", "oid": meta["blobId"], "size": meta["size"], "path": path}
            if "lfs" in meta:
                entry["lfs"] = {"oid": meta["lfs"]["sha256"], "size": meta["size"], "pointerSize": 134}
            if expand:
                entry["securityFileStatus"] = {"status": "safe", "avScan": {"virusFound": False},
                                               "pickleImportScan": None}
        if expand:
            entry["lastCommit"] = {"id": model.sha, "title": "Upload folder using huggingface_hub",
                                   "date": hub_time(model.last_modified)}
        return entry


def _gated(value: bool | str) -> bool | str:
    if value is True:
        return "auto"
    if value not in (False, "auto", "manual"):
        raise ValueError(f"gated must be False, 'auto' or 'manual', not {value!r}")
    return value


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": message}, dict(headers or {}))
