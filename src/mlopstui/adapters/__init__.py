"""Adapters: one module per source, translating its payloads into domain values. No UI."""


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
