"""Shared base for the local HTTP fakes: a threaded server, request log and fault injection.

Each fake (Hub, GitHub, Slack) subclasses `FakeServer` and implements `handle(req)`. The base
records every request (including the ones it answers with an injected fault) so tests can count
retries, and offers the faults every API shares: `fail_next`, `down`, `latency`.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit

from requests.structures import CaseInsensitiveDict


@dataclass
class Request:
    """One recorded request; also readable like a dict (`req["path"]`)."""

    method: str
    path: str  # percent-decoded path, without the query string
    raw_path: str  # path + query exactly as sent
    query: dict[str, Any]  # str per key, list when the key is repeated
    headers: CaseInsensitiveDict
    body: Any = None  # parsed JSON / form dict, else raw text (None when empty)
    raw_body: bytes = b""
    time: float = field(default_factory=time.time)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def query_list(self, key: str) -> list[str]:
        """All values of a query key, as a list (repeated keys like `expand=`)."""
        value = self.query.get(key)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]

    def query_value(self, key: str, default: str | None = None) -> str | None:
        """The last value of a query key (what most servers use)."""
        values = self.query_list(key)
        return values[-1] if values else default

    def bearer_token(self) -> str | None:
        """Token from `Authorization: Bearer x` or `Authorization: token x`, else None."""
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip():
            return value.strip()
        return None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"
    truncate_to: int | None = None  # announce the full length, send only this many bytes, then hang up

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def group_query(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query pairs -> dict with a str per key, or a list for repeated keys."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            prev = out[key]
            out[key] = prev + [value] if isinstance(prev, list) else [prev, value]
        else:
            out[key] = value
    return out


def to_datetime(value: Any) -> datetime | None:
    """datetime / ISO-8601 string (with Z) / epoch -> aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class _Injection:
    def __init__(self, count: int, make: Callable[[Request], Response], path_contains: str | None):
        self.count, self.make, self.path_contains = count, make, path_contains

    def matches(self, req: Request) -> bool:
        return self.count > 0 and (self.path_contains is None or self.path_contains in req.raw_path)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs (clients pool connections)

    def _dispatch(self) -> None:
        self.server.fake._serve(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, fake: FakeServer):
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        """A client that died mid-request (the crash tests kill them) is normal here, not worth a traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def process_request(self, request, client_address):
        self.open_sockets.add(request)
        with self.fake.lock:
            self.fake.connections += 1  # TCP connections accepted: proves clients reuse them
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.open_sockets.discard(request)
        super().shutdown_request(request)


class FakeServer:
    """Threaded local HTTP server with a request log and fault injection; subclass and `handle`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.connections = 0
        self.down = False  # every request answers 503 (use stop() for connection refused)
        self.latency = 0.0  # seconds slept before answering each request
        # Slow and hostile servers (issue 16):
        self.hang = False  # accept the request, then never answer (until stop())
        self.trickle = 0.0  # send the whole answer (status line, headers, body) one byte per this many seconds
        self.redirect_to: str | None = None  # answer every request with a 302 to this base URL + the same path
        self.gzip = False  # compress every body (Content-Encoding: gzip), whatever the client asked
        self.bomb_bytes = 0  # when > 0: every 200 body is this many spaces, gzip-compressed (a compression bomb)
        self.extra_headers: dict[str, str] = {}  # set on every answer, over what the fake would send
        self._stopping = threading.Event()
        self._injections: list[_Injection] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0  # remembered, so a stop()/start() cycle keeps the same url

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler, self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop kept-alive connections, so clients get connection errors."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        for sock in list(server.open_sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if not self._port:
            raise RuntimeError("fake server not started")
        return f"http://127.0.0.1:{self._port}"

    # -- request log -----------------------------------------------------------------------
    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def clear_faults(self) -> None:
        """Forget injected faults that have not fired yet."""
        with self.lock:
            self._injections.clear()

    def requests_to(self, path_contains: str, method: str | None = None) -> list[Request]:
        """Recorded requests whose path+query contains a string (and method, if given)."""
        with self.lock:
            return [r for r in self.requests if path_contains in r.raw_path
                    and (method is None or r.method == method.upper())]

    # -- faults ----------------------------------------------------------------------------
    def fail_next(self, n: int = 1, status: int = 503, body: Any = None,
                  headers: dict[str, str] | None = None, path_contains: str | None = None) -> None:
        """The next n matching requests answer `status` (default body: what this API sends)."""
        def make(req: Request) -> Response:
            if body is None:
                resp = self.error_response(status, req)
            else:
                resp = Response(status, body, content_type=_guess_type(body))
            resp.headers.update(headers or {})
            return resp
        self.inject(n, make, path_contains)

    def inject(self, n: int, make: Callable[[Request], Response], path_contains: str | None = None) -> None:
        """Answer the next n matching requests with `make(req)` (first registered, first used)."""
        with self.lock:
            self._injections.append(_Injection(n, make, path_contains))

    def _take_injection(self, req: Request) -> Callable[[Request], Response] | None:
        with self.lock:
            for inj in self._injections:
                if inj.matches(req):
                    inj.count -= 1
                    return inj.make
            self._injections = [i for i in self._injections if i.count > 0]
        return None

    # -- hooks for subclasses --------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        raise NotImplementedError

    def error_response(self, status: int, req: Request) -> Response:
        """Default body of an injected failure; subclasses mimic their API's error pages."""
        return Response(status, _html_error(status), content_type="text/html; charset=utf-8")

    def finalize(self, req: Request, resp: Response) -> Response:
        """Last chance to add headers common to every answer (rate-limit headers...)."""
        return resp

    # -- plumbing --------------------------------------------------------------------------
    def _serve(self, h: _Handler) -> None:
        req = self._read_request(h)
        with self.lock:
            self.requests.append(req)
        if self.latency:
            time.sleep(self.latency)
        if self.hang:
            self._stopping.wait()
            return
        try:
            make = None if self.down else self._take_injection(req)
            if self.redirect_to:
                resp = Response(302, "", {"Location": self.redirect_to.rstrip("/") + req.raw_path},
                                content_type="text/plain")
            elif self.down:
                resp = self.error_response(503, req)
            elif make is not None:
                resp = make(req)
            else:
                resp = self.handle(req)
            resp = self.finalize(req, resp)
            resp.headers.update(self.extra_headers)
        except Exception as exc:  # noqa: BLE001 - a bug in a fake must show up, not hang the client
            resp = Response(500, f"fake server error: {exc!r}", content_type="text/plain")
        if self.bomb_bytes and resp.status == 200:
            resp.body, resp.content_type = _bomb(self.bomb_bytes), "application/json"
            resp.headers["Content-Encoding"] = "gzip"
        elif self.gzip and resp.body is not None:
            resp.body = gzip.compress(resp.encoded())
            resp.headers["Content-Encoding"] = "gzip"
        if self.trickle:
            self._trickle(h, req, resp)
        else:
            self._write_response(h, req, resp)

    def _trickle(self, h: _Handler, req: Request, resp: Response) -> None:
        """The whole answer one byte at a time: every read sees progress, so no idle timeout ever trips."""
        data = resp.encoded()
        head = [f"HTTP/1.1 {resp.status} X", f"Content-Type: {resp.content_type}",
                *(f"{k}: {v}" for k, v in resp.headers.items()), f"Content-Length: {len(data)}"]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data
        try:
            for i in range(len(raw)):
                if self._stopping.wait(self.trickle):
                    return
                h.wfile.write(raw[i:i + 1])
                h.wfile.flush()
        except OSError:
            pass
        h.close_connection = True

    @staticmethod
    def _read_request(h: _Handler) -> Request:
        parts = urlsplit(h.path)
        headers = CaseInsensitiveDict(dict(h.headers.items()))
        raw = h.rfile.read(int(headers.get("Content-Length") or 0))  # clients never send chunked
        return Request(
            method=h.command, path=unquote(parts.path), raw_path=h.path,
            query=group_query(parse_qsl(parts.query, keep_blank_values=True)),
            headers=headers, body=_parse_body(raw, headers.get("Content-Type", "")), raw_body=raw,
        )

    @staticmethod
    def _write_response(h: _Handler, req: Request, resp: Response) -> None:
        data = resp.encoded()
        try:
            h.send_response(resp.status)
            if data or resp.status != 304:
                h.send_header("Content-Type", resp.content_type)
            for key, value in resp.headers.items():
                h.send_header(key, str(value))
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if req.method != "HEAD" and data:
                h.wfile.write(data if resp.truncate_to is None else data[:resp.truncate_to])
            if resp.truncate_to is not None:
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass


@functools.lru_cache(maxsize=4)
def _bomb(size: int) -> bytes:
    """`size` spaces, gzip-compressed a megabyte at a time (the fake itself never holds them all)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as packer:
        chunk = b" " * (1 << 20)
        for _ in range(size >> 20):
            packer.write(chunk)
        packer.write(b" " * (size & ((1 << 20) - 1)))
    return out.getvalue()


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return group_query(parse_qsl(text, keep_blank_values=True))
    return text


def _guess_type(body: Any) -> str:
    if isinstance(body, (dict, list)):
        return "application/json; charset=utf-8"
    text = body.decode() if isinstance(body, bytes) else str(body)
    return "text/html; charset=utf-8" if text.lstrip().startswith("<") else "text/plain; charset=utf-8"


def _html_error(status: int) -> str:
    return (f"<html><head><title>{status}</title></head><body><h1>{status}</h1>"
            "<p>The server is temporarily unable to service your request.</p></body></html>")
