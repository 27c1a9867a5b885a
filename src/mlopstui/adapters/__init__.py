"""Adapters: one module per source, translating its payloads into domain values. No UI."""


class SourceError(Exception):
    """A source failed; `str()` is a sentence a person can act on."""


class SourceUnreachable(SourceError):
    """The source did not answer (connection refused, timeout, DNS)."""


class SourceAuthError(SourceError):
    """The source refused our credentials (401/403)."""
