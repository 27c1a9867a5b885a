"""Adapters: one module per source, translating its payloads into domain values. No UI."""

from __future__ import annotations

from mlopstui.text import first_line


class SourceError(Exception):
    """A source failed; `str()` is a sentence a person can act on."""

    status: int | None = None
    """The HTTP status the source answered with, when it answered."""
    error_code: str = ""
    """The source's own error code when it gave one (MLflow's, e.g. RESOURCE_DOES_NOT_EXIST)."""
    not_sent: bool = False
    """True when the request provably never reached the source, or the source refused it
    without acting (connection refused, a Retry-After still running, 429/503 busy): a write
    that failed so changed nothing."""


class SourceUnreachable(SourceError):
    """The source did not answer (connection refused, timeout, DNS)."""


class SourceAuthError(SourceError):
    """The source refused our credentials (401/403)."""


class PartialSync(SourceError):
    """A pass that wrote everything it could read, and must still say what it could not (a
    run that does not parse, a sweep refused as incomplete): recorded as failing so the feed
    says why, but not backed off, since the next pass is as useful as ever."""

    backoff = False


def network_reason(
    exc: BaseException,
    *,
    server: str = "the server",
    timeout: float | None = None,
    tls: str = "",
) -> str:
    """Why a request failed, in a few words a person can act on. The transports' own text
    ("HTTPSConnectionPool(...): Max retries exceeded ... (Caused by NewConnectionError('<...
    object at 0x...>: ...'))") is a repr that buries the reason at the end; the whole chain of
    causes is searched for it. `server` names what did not answer ('the API server'),
    `timeout` the read timeout, `tls` a hint for TLS errors."""
    parts, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        parts.append(f"{type(cur).__name__}: {cur}")
        cur = cur.__cause__ or cur.__context__
    low = " ".join(parts).lower()
    if "connection refused" in low or "errno 111" in low:
        return f"connection refused (is {server} running?)"
    if "timeout" in low or "timed out" in low:
        return f"no answer within {timeout:g} s" if timeout else "no answer in time"
    if "name or service not known" in low or "failed to resolve" in low or "nodename" in low:
        return "host name not found"
    if "ssl" in low or "certificate" in low:
        return f"TLS error ({tls})" if tls else f"TLS error: {first_line(exc)}"
    if "no route to host" in low or "network is unreachable" in low:
        return f"no route to {server}"
    if any(
        m in low
        for m in (
            "remotedisconnected",
            "connection reset",
            "reset by peer",
            "aborted",
            "protocolerror",
        )
    ):
        return f"{server} closed the connection"
    return first_line(exc)
