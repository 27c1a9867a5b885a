"""A fault-injecting HTTP proxy on loopback, between the workbench and a real server.

`FaultProxy(server.url)` forwards every request unchanged to the real server behind it (the
real MLflow tracking server in the tests) until a rule says otherwise:

    with FaultProxy(server.url) as proxy:
        proxy.on("POST", "/api/2.0/mlflow/runs/search", Status(500))
        proxy.on("POST", "/api/2.0/mlflow/runs/search", Trickle(every=2.0), times=1)
        proxy.on("POST", RUNS_SEARCH, Rewrite(lambda req, resp: {**resp, "runs": []}))

A rule matches a method and a path (query string ignored; a path ending in "*" is a prefix),
optionally only `times` times and only when `when(request_json)` is true; the newest matching
rule wins. Every request is logged in `proxy.log` as (method, path, request_json). Faults:

- `Status(code, body, headers)`: answer that status (e.g. 500, 429 with Retry-After) without
  forwarding.
- `Trickle(every, chunk)`: a 200 whose body never ends, one chunk every `every` seconds.
- `Hang(seconds)`: accept the request and say nothing for that long (default: until stopped).
- `Huge(size)`: a 200 with a JSON body of `size` bytes, streamed.
- `Drop()`: close the connection without an answer.
- `Rewrite(fn)`: forward, then answer `fn(request_json, response_json)` instead.
- `Before(fn)`: call `fn(request_json)` (e.g. delete runs on the real server mid-sweep), then
  forward.
- `Late(seconds)`: forward (the server applies the request), then wait before answering.

It is a real `ThreadingHTTPServer` on 127.0.0.1; nothing in it is a fake of the server behind.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}
RUNS_SEARCH = "/api/2.0/mlflow/runs/search"
EXPERIMENTS_SEARCH = "/api/2.0/mlflow/experiments/search"
MODELS_SEARCH = "/api/2.0/mlflow/registered-models/search"
VERSIONS_SEARCH = "/api/2.0/mlflow/model-versions/search"

Json = dict[str, Any]


# ------------------------------------------------------------------ faults


@dataclass
class Status:
    """Answer this status without forwarding."""

    code: int
    body: Json | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Trickle:
    """A 200 that never ends: one `chunk` every `every` seconds, until the client gives up."""

    every: float = 2.0
    chunk: bytes = b" "


@dataclass
class Hang:
    """Say nothing for `seconds` (None: until the proxy stops), then close."""

    seconds: float | None = None


@dataclass
class Huge:
    """A 200 JSON body of about `size` bytes, streamed in 1 MiB writes."""

    size: int


@dataclass
class Drop:
    """Close the connection without an answer."""


@dataclass
class Rewrite:
    """Forward, then answer `fn(request_json, response_json)` (status unchanged)."""

    fn: Callable[[Json, Json], Json]


@dataclass
class Before:
    """Call `fn(request_json)`, then forward."""

    fn: Callable[[Json], None]


@dataclass
class Late:
    """Forward (the server applies it), then wait `seconds` before answering."""

    seconds: float


Fault = Status | Trickle | Hang | Huge | Drop | Rewrite | Before | Late


@dataclass
class Rule:
    method: str
    path: str
    fault: Fault
    times: int | None = None
    when: Callable[[Json], bool] | None = None
    hits: int = 0

    def matches(self, method: str, path: str, request: Json) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method):
            return False
        if self.path.endswith("*"):
            if not path.startswith(self.path[:-1]):
                return False
        elif path != self.path:
            return False
        return self.when is None or bool(self.when(request))


# ------------------------------------------------------------------ the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = _request_json(body, split.query)
        proxy._record(self.command, split.path, request)
        rule = proxy._match(self.command, split.path, request)
        fault = rule.fault if rule else None
        try:
            if isinstance(fault, Status):
                self._status(fault)
            elif isinstance(fault, Trickle):
                self._trickle(fault)
            elif isinstance(fault, Hang):
                proxy._stopping.wait(fault.seconds)
                self.close_connection = True
            elif isinstance(fault, Huge):
                self._huge(fault)
            elif isinstance(fault, Drop):
                self.close_connection = True
            else:
                if isinstance(fault, Before):
                    fault.fn(request)
                status, headers, data = self._forward(body)
                if isinstance(fault, Rewrite):
                    new = fault.fn(request, json.loads(data or b"{}"))
                    data = json.dumps(new).encode()
                    headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
                    headers.append(("Content-Type", "application/json"))
                if isinstance(fault, Late):
                    proxy._stopping.wait(fault.seconds)
                self._send(status, headers, data)
        except OSError:  # the client went away: that is what some faults are for
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        proxy = self.server.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            return resp.status, out, data
        except OSError as exc:
            return 502, [("Content-Type", "text/plain")], f"upstream failed: {exc}".encode()
        finally:
            upstream.close()

    def _send(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, fault: Status) -> None:
        if fault.body is None:
            data = json.dumps(
                {"error_code": "INTERNAL_ERROR", "message": f"injected HTTP {fault.code}"}
            ).encode()
        elif isinstance(fault.body, str):
            data = fault.body.encode()
        else:
            data = json.dumps(fault.body).encode()
        headers = [("Content-Type", "application/json"), *fault.headers.items()]
        self._send(fault.code, headers, data)

    def _trickle(self, fault: Trickle) -> None:
        stopping = self.server.proxy._stopping
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(10**9))
        self.end_headers()
        self.wfile.write(b'{"runs": [')
        self.wfile.flush()
        while not stopping.wait(fault.every):
            self.wfile.write(fault.chunk)
            self.wfile.flush()
        self.close_connection = True

    def _huge(self, fault: Huge) -> None:
        head, tail = b'{"runs": [], "pad": "', b'"}'
        pad = max(0, fault.size - len(head) - len(tail))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(head) + pad + len(tail)))
        self.end_headers()
        self.wfile.write(head)
        block = b"x" * (1 << 20)
        while pad > 0:
            n = min(pad, len(block))
            self.wfile.write(block[:n])
            pad -= n
        self.wfile.write(tail)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: FaultProxy


class FaultProxy:
    """Forwards to `upstream_url`, injecting the faults of its rules."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rules: list[Rule] = []
        self.log: list[tuple[str, str, Json]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.proxy = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def on(
        self,
        method: str,
        path: str,
        fault: Fault,
        *,
        times: int | None = None,
        when: Callable[[Json], bool] | None = None,
    ) -> Rule:
        """Inject `fault` into matching requests (the newest matching rule wins)."""
        rule = Rule(method, path, fault, times, when)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Forward everything unchanged again."""
        with self._lock:
            self.rules.clear()

    def count(self, method: str, path: str) -> int:
        """How many requests with this method and path arrived."""
        with self._lock:
            return sum(1 for m, p, _ in self.log if m == method and p == path)

    def _record(self, method: str, path: str, request: Json) -> None:
        with self._lock:
            self.log.append((method, path, request))
            del self.log[:-10000]

    def _match(self, method: str, path: str, request: Json) -> Rule | None:
        with self._lock:
            for rule in reversed(self.rules):
                if rule.matches(method, path, request):
                    rule.hits += 1
                    return rule
        return None

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _request_json(body: bytes, query: str) -> Json:
    if body:
        try:
            parsed = json.loads(body)
            return parsed if isinstance(parsed, dict) else {"_body": parsed}
        except ValueError:
            return {"_raw": body[:200].decode("latin-1")}
    return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(query).items()}


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `predicate` until it is truthy (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.05)
