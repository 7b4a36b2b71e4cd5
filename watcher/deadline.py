"""Wall-clock deadlines for every HTTP read, so a slow server can never hold a request or a cycle.

Why: a socket timeout bounds each *idle* read, not a request: a server sending one byte every 2 s never
trips a 5 s read timeout, and `watcher poll` ran for hours. Here each read of our HTTP clients clamps
the socket's timeout to what is left of the tighter of two deadlines and fails once that has passed:
the attempt's own (`timeout` from the first byte sent, wall clock) and the thread's (`until(...)`, the
source's per-cycle allowance or Slack's `max_delivery_time`). The hooks are the libraries' own
extension points: httpcore's network backend (huggingface_hub), http.client's `response_class`
(urllib3 under PyGithub, urllib under slack_sdk). Bodies are also capped in bytes *as they are
decoded*, so a compression bomb stops at the cap instead of filling memory.
"""

from __future__ import annotations

import functools
import http.client
import io
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MAX_BODY_BYTES = 64 * 1024 * 1024  # decoded; the largest real listing page is a few MB
_local = threading.local()


class OutOfTime(TimeoutError):
    """The wall-clock deadline passed; a TimeoutError, so every client reports it as a timeout."""


class TooLarge(ValueError):
    """A body grew past MAX_BODY_BYTES while being read or decompressed."""


def now() -> float:
    return time.monotonic()


@contextmanager
def until(at: float | None) -> Iterator[None]:
    """Requests made on this thread inside the block end by monotonic time `at` (nested: the tighter wins)."""
    outer = getattr(_local, "at", None)
    _local.at = at if outer is None else (outer if at is None else min(outer, at))
    try:
        yield
    finally:
        _local.at = outer


def within(seconds: float) -> Any:
    return until(now() + seconds)


def current() -> float | None:
    return getattr(_local, "at", None)


def remaining(extra: float | None = None) -> float | None:
    """Seconds left of the thread's deadline (and of `extra`, an absolute time), None when unbounded."""
    ats = [a for a in (current(), extra) if a is not None]
    return min(ats) - now() if ats else None


def expired() -> bool:
    left = remaining()
    return left is not None and left <= 0


def clamp(timeout: float | None, extra: float | None = None) -> float | None:
    """The socket timeout to use for one read: never past the deadline; raises once it has passed."""
    left = remaining(extra)
    if left is None:
        return timeout
    if left <= 0:
        raise OutOfTime("wall-clock deadline passed (server too slow)")
    return left if timeout is None else min(timeout, left)


# -- http.client (urllib3 under requests/PyGithub, urllib under slack_sdk) ---------------------------
class _Reader(io.RawIOBase):
    """The socket as a file for http.client, each read clamped to the deadlines."""

    def __init__(self, sock: Any, attempt_at: float | None) -> None:
        self._sock, self._attempt_at = sock, attempt_at
        self._raw = sock.makefile("rb", buffering=0)  # holds the socket open as http.client expects
        self._total = 0

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: Any) -> int:
        timeout = self._sock.gettimeout()
        self._sock.settimeout(clamp(timeout, self._attempt_at))
        try:
            n = self._raw.readinto(buffer) or 0
        finally:
            if self._sock.fileno() != -1:
                self._sock.settimeout(timeout)
        self._total += n
        if self._total > MAX_BODY_BYTES:
            raise TooLarge(f"answer larger than {MAX_BODY_BYTES // (1024 * 1024)} MB")
        return n


class _SocketView:
    def __init__(self, sock: Any, attempt_at: float | None) -> None:
        self._sock, self._attempt_at = sock, attempt_at

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_Reader(self._sock, self._attempt_at))


def _response_class(base: type) -> type:
    class DeadlineResponse(base.response_class):  # type: ignore[name-defined]
        def __init__(self, sock: Any, *args: Any, attempt_at: float | None = None, **kwargs: Any) -> None:
            super().__init__(_SocketView(sock, attempt_at), *args, **kwargs)

    return DeadlineResponse


def connection_class(base: type) -> type:
    """`base` (an http.client.HTTPConnection subclass) whose attempts end within `timeout`, wall clock.

    The attempt's clock starts when the request line is written; headers and body must both arrive
    before it runs out (or before the thread's deadline, if that is sooner).
    """
    response = _response_class(base)

    class DeadlineConnection(base):
        def putrequest(self, *args: Any, **kwargs: Any) -> Any:
            wall = self.timeout if isinstance(self.timeout, (int, float)) else None
            attempt_at = now() + wall if wall is not None else None
            self.response_class = functools.partial(response, attempt_at=attempt_at)
            return super().putrequest(*args, **kwargs)

    DeadlineConnection.__name__ = f"Deadline{base.__name__}"
    return DeadlineConnection


# -- httpcore (httpx under huggingface_hub) ----------------------------------------------------------
def httpcore_backend(httpcore: Any, inner: Any) -> Any:
    """An httpcore network backend whose streams read and write under the thread's deadline."""

    class Stream(httpcore.NetworkStream):
        def __init__(self, stream: Any) -> None:
            self._stream = stream

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._stream.read(max_bytes, _or_timeout(httpcore.ReadTimeout, timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._stream.write(buffer, _or_timeout(httpcore.WriteTimeout, timeout))

        def close(self) -> None:
            self._stream.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
            return Stream(self._stream.start_tls(ssl_context, server_hostname,
                                                 _or_timeout(httpcore.ConnectTimeout, timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._stream.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                        socket_options: Any = None) -> Any:
            timeout = _or_timeout(httpcore.ConnectTimeout, timeout)
            return Stream(inner.connect_tcp(host, port, timeout, local_address, socket_options))

        def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
            return Stream(inner.connect_unix_socket(path, _or_timeout(httpcore.ConnectTimeout, timeout),
                                                    socket_options))

        def sleep(self, seconds: float) -> None:
            inner.sleep(seconds)

    return Backend()


def _or_timeout(error: type[Exception], timeout: float | None) -> float | None:
    try:
        return clamp(timeout)
    except OutOfTime as exc:
        raise error(str(exc)) from None


# -- decoded body caps -------------------------------------------------------------------------------
def capped(chunks: Iterator[bytes], what: str, limit: int = MAX_BODY_BYTES) -> bytes:
    """Join decoded chunks, stopping (TooLarge) as soon as they pass `limit`."""
    parts, total = [], 0
    for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise TooLarge(f"{what}: body larger than {limit // (1024 * 1024)} MB once decompressed")
        parts.append(chunk)
    return b"".join(parts)


# -- urllib (slack_sdk) ------------------------------------------------------------------------------
class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(_HTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        kwargs = {"context": self._context}
        if hasattr(self, "_check_hostname"):
            kwargs["check_hostname"] = self._check_hostname
        return self.do_open(_HTTPSConnection, req, **kwargs)


class _SameHostRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect to another host is refused: the request carries a token (or is a secret webhook URL)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        here, there = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (here.scheme, here.netloc.lower()) != (there.scheme, there.netloc.lower()):
            raise urllib.error.URLError(f"refused to follow a redirect to another host ({there.hostname})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_HTTPConnection = connection_class(http.client.HTTPConnection)
_HTTPSConnection = connection_class(http.client.HTTPSConnection)


def install_urllib_opener() -> None:
    """slack_sdk calls urllib's `urlopen`, which uses the installed opener; this process's only urllib user."""
    urllib.request.install_opener(urllib.request.build_opener(_HTTPHandler, _HTTPSHandler, _SameHostRedirect))
