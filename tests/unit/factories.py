"""Builders shared by the unit tests."""

from __future__ import annotations

from mlopstui.domain import Metric, Run


def make_run(
    run_id: str,
    experiment_id: str = "1",
    *,
    metrics: dict[str, float] | None = None,
    **kwargs: object,
) -> Run:
    """A Run with metrics given as plain {key: value}; name defaults to the run id."""
    kwargs.setdefault("name", run_id)
    kwargs.setdefault("status", "FINISHED")
    ms = {k: Metric(k, v) for k, v in (metrics or {}).items()}
    return Run(run_id, experiment_id, metrics=ms, **kwargs)  # type: ignore[arg-type]
