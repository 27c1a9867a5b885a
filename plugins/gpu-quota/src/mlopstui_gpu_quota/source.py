"""The GPU quota source: `GET <url>/quotas` from a team's quota service, into the cache.

The service answers `{"teams": [{"team": "nlp", "quota_gpus": 16, "used_gpus": 12}, ...]}`.
Each sync replaces the whole snapshot (one record per team, `mlopstui.plugin_api.data`) in one
transaction, so a failed sync leaves the previous snapshot as it was.

Config, `[sources.gpu-quota]` in the mlopstui config file:

    url = "http://quota.internal:8080"   # required; the source is off without it
    interval = 60                        # seconds between syncs
    timeout = 5                          # seconds for the whole reply, connect to last byte

Opening reads only that table: no network, no import beyond the standard library.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from mlopstui.plugin_api import (
    SOURCE_API_VERSION,
    Check,
    Job,
    Source,
    SourceEnv,
    SourceInfo,
    StatusItem,
    data,
)
from mlopstui_gpu_quota import RECORDS, SOURCE, TOPIC

DEFAULT_INTERVAL = 60.0
DEFAULT_TIMEOUT = 5.0
MAX_BYTES = 1_000_000
"""A reply longer than this is refused (the read stops one byte past it)."""
ENDPOINT = "/quotas"
NOT_CONFIGURED = 'not configured: set url = "http://HOST:PORT" in [sources.gpu-quota]'


class QuotaError(Exception):
    """A sync or check that failed, as one readable line."""


class QuotaSource(Source):
    """A team's GPU quota service."""

    name = SOURCE
    title = "GPU quota"
    api_version = SOURCE_API_VERSION
    topics = frozenset({TOPIC})

    def __init__(self, env: SourceEnv) -> None:
        super().__init__(env)
        self.url: str | None = None
        self.label = "not configured"
        self.interval = DEFAULT_INTERVAL
        self.timeout = DEFAULT_TIMEOUT
        self.error: str | None = None
        """A config mistake, reported by sync and `doctor` (opening never fails for it)."""
        try:
            self._configure(env.config)
        except QuotaError as exc:
            self.error = str(exc)

    def _configure(self, config: Any) -> None:
        url = config.get("url")
        self.interval = _seconds(config, "interval", DEFAULT_INTERVAL)
        self.timeout = _seconds(config, "timeout", DEFAULT_TIMEOUT)
        if url in (None, ""):
            return
        if not isinstance(url, str):
            raise QuotaError("[sources.gpu-quota] url: expected a string like http://HOST:PORT")
        parts = urlsplit(url.strip())
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            parts = parts._replace(netloc="")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise QuotaError(
                f"[sources.gpu-quota] url: expected http(s)://HOST[:PORT], got {_label(url)!r}"
            )
        self.url = url.strip()
        self.label = _label(self.url)

    @property
    def configured(self) -> bool:
        """Whether there is a quota service to talk to."""
        return self.url is not None

    # ------------------------------------------------------------------ sync

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        if self.error:
            raise QuotaError(self.error)
        if not self.configured:
            return []
        return [Job(SOURCE, RECORDS, self.interval, self.sync_once)]

    def fetch_teams(self) -> list[dict[str, Any]]:
        """One GET of the quota service, validated (raises QuotaError)."""
        if self.url is None:
            raise QuotaError(self.error or NOT_CONFIGURED)
        url = _endpoint(self.url)
        return parse_teams(fetch(url, self.timeout), _label(url))

    def sync_once(self) -> int:
        """Fetch, validate, store the whole snapshot, announce; returns the teams stored."""
        teams = self.fetch_teams()
        with self.env.writer.transaction() as conn:
            rows = data.replace_records(conn, SOURCE, RECORDS, [(t["team"], t) for t in teams])
        self.env.announce(SOURCE, {TOPIC})
        return rows

    # ------------------------------------------------------------------ display

    def info(self) -> SourceInfo:
        return SourceInfo(
            SOURCE,
            self.label,
            configured=self.configured,
            read_only=True,
            error=self.error,
            details={"url": self.label, "interval": self.interval, "timeout": self.timeout},
        )

    def status(self) -> list[StatusItem]:
        return [StatusItem(self.label, feed=SOURCE)] if self.configured else []

    # ------------------------------------------------------------------ health

    def check(self) -> list[Check]:
        if self.error:
            return [Check(SOURCE, False, self.error)]
        if not self.configured:
            return [Check(SOURCE, None, NOT_CONFIGURED)]
        started = time.monotonic()
        try:
            teams = self.fetch_teams()
        except QuotaError as exc:
            return [Check(SOURCE, False, str(exc))]
        took = time.monotonic() - started
        over = sum(1 for t in teams if t["used_gpus"] > t["quota_gpus"])
        detail = f"{len(teams)} teams, {over} over quota ({took:.1f} s)"
        return [Check(SOURCE, True, f"{_label(_endpoint(self.url or ''))}: {detail}")]


# ---------------------------------------------------------------------- HTTP


def fetch(url: str, timeout: float, max_bytes: int = MAX_BYTES) -> bytes:
    """GET `url` and return the body of a 200 reply.

    `timeout` bounds the whole exchange (connect, headers and body): a watchdog shuts the
    socket down at the deadline, so a server that trickles its headers or its body cannot hold
    the sync thread. Replies over `max_bytes` are refused; the read stops just past the cap.
    Every failure is a QuotaError with one readable line naming the URL (without credentials).
    """
    import http.client
    import ssl

    label = _label(url)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise QuotaError(f"{label}: bad port in the url") from None
    host = parts.hostname or ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    expired = threading.Event()
    opened: list[socket.socket] = []
    """The connection's socket: `conn.sock` goes back to None once the headers of a reply
    that ends with the connection are in, while its body is still being read from it."""

    def expire() -> None:
        expired.set()
        for sock in [*opened, conn.sock]:
            if sock is not None:
                # The plain socket's shutdown: it wakes a blocked read, TLS or not.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    watchdog = threading.Timer(timeout, expire)
    watchdog.daemon = True
    late = f"{label}: no complete reply within {timeout:g} s"
    watchdog.start()
    try:
        try:
            conn.connect()
        except OSError as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise QuotaError(late) from None
            raise QuotaError(f"{label}: cannot connect: {_reason(exc)}") from None
        if conn.sock is not None:
            opened.append(conn.sock)
        if expired.is_set():
            raise QuotaError(late)
        try:
            conn.request(
                "GET",
                path,
                headers={"Accept": "application/json", "User-Agent": "mlopstui-gpu-quota"},
            )
            resp = conn.getresponse()
            if resp.status != 200:
                raise QuotaError(f"{label}: HTTP {resp.status} {_short(resp.reason, 60)}".rstrip())
            length = resp.getheader("Content-Length")
            if length and length.strip().isdigit() and int(length) > max_bytes:
                raise QuotaError(f"{label}: the reply is {int(length)} bytes, over {max_bytes}")
            body = resp.read(max_bytes + 1)
        except QuotaError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise QuotaError(late) from None
            raise QuotaError(f"{label}: {_reason(exc)}") from None
        watchdog.cancel()
        if expired.is_set():  # cut short: what was read may be a truncated reply
            raise QuotaError(late)
        if len(body) > max_bytes:
            raise QuotaError(f"{label}: the reply is over {max_bytes} bytes")
        return body
    finally:
        watchdog.cancel()
        conn.close()


# ---------------------------------------------------------------------- validation


def parse_teams(body: bytes, label: str) -> list[dict[str, Any]]:
    """The teams of a reply, checked: `{"teams": [{"team", "quota_gpus", "used_gpus"}]}`."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
        where = (
            f" (line {exc.lineno} column {exc.colno})"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise QuotaError(f"{label}: the reply is not JSON{where}: {_preview(body)}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("teams"), list):
        raise QuotaError(
            f'{label}: unexpected reply: expected {{"teams": [...]}}, got {_kind(payload)}'
        )
    teams: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(payload["teams"]):
        where = f"{label}: teams[{i}]"
        if not isinstance(item, dict):
            raise QuotaError(f"{where}: expected an object, got {_kind(item)}")
        team = item.get("team")
        if not isinstance(team, str) or not team.strip():
            raise QuotaError(f"{where}.team: expected a non-empty string, got {_value(team)}")
        if len(team) > 200:
            raise QuotaError(f"{where}.team: longer than 200 characters")
        if team in seen:
            raise QuotaError(f"{where}.team: {_value(team)} is listed twice")
        seen.add(team)
        counts = {}
        for key in ("quota_gpus", "used_gpus"):
            value = item.get(key)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise QuotaError(
                    f"{where}.{key} ({_value(team)}): expected a whole number >= 0, "
                    f"got {_value(value)}"
                )
            counts[key] = value
        teams.append({"team": team, **counts})
    return teams


# ---------------------------------------------------------------------- helpers


def _seconds(config: Any, key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise QuotaError(
            f"[sources.gpu-quota] {key}: expected a number of seconds > 0, got {value!r}"
        )
    return float(value)


def _endpoint(url: str) -> str:
    """`url` with ENDPOINT added to its path (its query kept)."""
    parts = urlsplit(url)
    return parts._replace(path=parts.path.rstrip("/") + ENDPOINT).geturl()


def _label(url: str) -> str:
    """The URL as shown: no user:password@, no query (it may hold a token), no fragment."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.rpartition("@")[2]
    return _short(parts._replace(netloc=netloc, query="", fragment="").geturl(), 120)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _short(str(exc), 120) or type(exc).__name__


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


def _value(value: Any) -> str:
    return _short(json.dumps(value, ensure_ascii=True), 40)


def _preview(body: bytes) -> str:
    return repr(_short(body[:60].decode("utf-8", "replace"), 40))


def _short(value: object, limit: int) -> str:
    """One line, at most `limit` characters (display cleaning is the CLI's and the UI's)."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
