"""A stand-in DCGM exporter: current values of dcgm_history's fleet, on 127.0.0.1 only.

  python dcgm_exporter.py --port PORT [--pidfile FILE]

GET /metrics             every GPU of every host (24 GPUs x 6 metrics)
GET /metrics?host=NAME   one host's GPUs, as a real per-node exporter would serve them
                         (Prometheus scrapes one target per host this way)
GET /health              200 "ok"

Values come from dcgm_history.values(series, now), so scraped samples continue the
backfilled history without a jump.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dcgm_history  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        if parts.path == "/health":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
            return
        if parts.path != "/metrics":
            self._send(404, b"not found\n", "text/plain; charset=utf-8")
            return
        hosts = parse_qs(parts.query).get("host")
        if hosts and not set(hosts) <= set(dcgm_history.HOSTS):
            self._send(404, b"unknown host\n", "text/plain; charset=utf-8")
            return
        text = dcgm_history.exposition(time.time(), tuple(hosts) if hosts else None)
        self._send(200, text.encode(), "text/plain; version=0.0.4; charset=utf-8")

    do_HEAD = do_GET

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # Prometheus scrapes every few seconds: keep the log for errors only.


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pidfile", default=None)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.pidfile:
        Path(args.pidfile).write_text(f"{os.getpid()}\n")
    print(f"dcgm_exporter listening on 127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
