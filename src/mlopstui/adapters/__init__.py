"""Adapters: one module per source, translating its payloads into domain values. No UI."""


class SourceError(Exception):
    """A source failed; `str()` is a sentence a person can act on."""

    status: int | None = None
    """The HTTP status the source answered with, when it answered."""
    error_code: str = ""
    """The source's own error code when it gave one (MLflow's, e.g. RESOURCE_DOES_NOT_EXIST)."""


class SourceUnreachable(SourceError):
    """The source did not answer (connection refused, timeout, DNS)."""


class SourceAuthError(SourceError):
    """The source refused our credentials (401/403)."""
