"""A holding proxy in front of a real MLflow server, for actions caught mid-flight.

`HoldingProxy(upstream).hold("POST", "/api/2.0/mlflow/registered-models/alias")` forwards
every request unchanged except matching ones, which it holds (the client waits for an answer,
as it would behind a stalled load balancer) until `release()` forwards them or `drop()` closes
their connections without an answer. It is a real HTTP server on 127.0.0.1; the server behind
it is the real MLflow server.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _forward(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path.split("?", 1)[0]
        if (self.command, path) in proxy.holds:
            proxy.held.append((self.command, path))
            proxy.arrived.set()
            proxy.gate.wait(120)
            if proxy.dropping:
                self.close_connection = True
                self.connection.close()
                return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for key, value in resp.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            proxy.forwarded.append((self.command, path))
        except OSError:
            self.close_connection = True
        finally:
            upstream.close()

    do_GET = do_POST = do_DELETE = do_PATCH = _forward

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: HoldingProxy


class HoldingProxy:
    """Forwards to `upstream_url`; holds requests registered with `hold()`."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.holds: set[tuple[str, str]] = set()
        self.held: list[tuple[str, str]] = []
        self.forwarded: list[tuple[str, str]] = []
        self.arrived = threading.Event()
        self.gate = threading.Event()
        self.dropping = False
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.proxy = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def hold(self, method: str, path: str) -> HoldingProxy:
        """Hold requests with this method and path (query string ignored)."""
        self.holds.add((method, path))
        return self

    def release(self) -> None:
        """Forward every held request (and stop holding)."""
        self.holds.clear()
        self.gate.set()

    def drop(self) -> None:
        """Close the held connections without an answer (and stop holding)."""
        self.dropping = True
        self.release()

    def start(self) -> HoldingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


ALIAS_ENDPOINT = "/api/2.0/mlflow/registered-models/alias"
