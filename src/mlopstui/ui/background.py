"""One path for blocking work in the UI: run it off the loop, answer on the loop.

    background.run_off_loop(app, lambda: source.artifacts(run_id), self._show, name="artifacts")

`fn` runs on a daemon thread (or on `executor`, for work that must stay in order); what it
returns or raises comes back as a `JobDone` posted to the app's message queue (Textual's
thread-safe `call_later`), and is handed out there, on the UI thread: the result to `on_done`,
an exception to `on_error` or else to `report`, the one place that turns a failure into a toast
a person can read (sanitised, one line, no traceback; the traceback goes to the log).

Why not Textual's `run_worker(thread=True)`: thread workers run on the event loop's default
executor, and `asyncio.run` joins that executor when the app's loop ends, so one fetch hanging
on a dead server would hold up quitting until its socket gives up. These threads are daemons
that nobody joins: quitting never waits for them, and a result that arrives after the app has
gone is dropped (and a failure still logged).

Jobs in flight are counted per app, so tests `await settled(app)` instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from textual.app import App

from mlopstui import text

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_FAILURE = "Background work failed"


@dataclass(frozen=True)
class JobDone(Generic[T]):
    """What a background job posts back to the loop: its result, or the exception it raised."""

    name: str
    result: T | None = None
    error: BaseException | None = None


class _Jobs:
    """The jobs in flight for one app. Touched only on the app's loop."""

    def __init__(self) -> None:
        self.running: Counter[str] = Counter()
        self.idle = asyncio.Event()
        self.idle.set()

    def start(self, name: str) -> None:
        self.running[name] += 1
        self.idle.clear()

    def finish(self, name: str) -> None:
        self.running[name] -= 1
        if self.running[name] <= 0:
            del self.running[name]
        if not self.running:
            self.idle.set()


_jobs: weakref.WeakKeyDictionary[App[Any], _Jobs] = weakref.WeakKeyDictionary()


def _jobs_of(app: App[Any]) -> _Jobs:
    jobs = _jobs.get(app)
    if jobs is None:
        jobs = _jobs[app] = _Jobs()
    return jobs


def readable(exc: BaseException, *, limit: int = 300) -> str:
    """An exception as one line a person can read: its message (its type's name when it has
    none), sanitised and cut at `limit`; never a traceback."""
    message = str(exc).strip()
    if not message:
        message = type(exc).__name__
    elif isinstance(exc, (LookupError, AttributeError, TypeError, NameError, AssertionError)):
        message = f"{type(exc).__name__}: {message}"  # a bug: "'run_id'" alone says nothing
    return text.clean(message, limit=limit)


def report(app: App[Any], failure: str, exc: BaseException) -> None:
    """The one handler for a background failure nobody else handles: an error toast saying
    what failed and why, pointing at the log for the traceback. Call on the UI thread."""
    app.notify(
        f"{text.clean(failure)}: {readable(exc)} (details in the log)",
        severity="error",
        timeout=10,
        markup=False,
    )


def run_off_loop(
    app: App[Any],
    fn: Callable[[], T],
    on_done: Callable[[T], object] | None = None,
    *,
    name: str,
    on_error: Callable[[BaseException], object] | None = None,
    failure: str = DEFAULT_FAILURE,
    executor: Executor | None = None,
) -> None:
    """Run `fn()` off the UI loop; hand its result to `on_done` on the UI thread.

    If `fn` raises, the exception is logged with its traceback and handed to `on_error` (for a
    caller that shows failures in its own words) or, without one, to `report` with `failure`
    as the toast's first words. An exception raised by `on_done`/`on_error` themselves is
    reported the same way instead of taking the workbench down. `name` names the thread and
    the log lines. Call on the UI thread.
    """
    jobs = _jobs_of(app)
    jobs.start(name)
    loop = asyncio.get_running_loop()

    def deliver(done: JobDone[T]) -> None:
        """On the UI thread: the one place a job's answer is handed out."""
        try:
            if done.error is None:
                if on_done is not None:
                    on_done(done.result)  # type: ignore[arg-type]
            elif on_error is not None:
                on_error(done.error)
            else:
                report(app, failure, done.error)
        except Exception as exc:  # a bug in a handler: say so, keep the workbench up
            log.exception("handling the result of background job %s failed", done.name)
            report(app, failure, exc)
        finally:
            jobs.finish(done.name)

    def work() -> None:
        try:
            done: JobDone[T] = JobDone(name, result=fn())
        except Exception as exc:
            log.exception("background job %s failed", name)
            done = JobDone(name, error=exc)
        # call_later is thread-safe and never blocks this thread; False once the app closes.
        try:
            posted = app.call_later(deliver, done)
        except RuntimeError:  # the loop has closed
            posted = False
        if not posted:  # nobody will hand it out: stop counting it
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(jobs.finish, name)

    if executor is not None:
        executor.submit(work)
    else:
        threading.Thread(target=work, name=name, daemon=True).start()


def run_fetch(
    app: App[Any],
    fetcher: Callable[..., Any],
    what: str,
    on_done: Callable[[Any], object],
    /,
    **kwargs: Any,
) -> None:
    """`PaneContext.fetch` for the workbench and the pane test harness: `fetcher(what,
    **kwargs)` off the loop, then `on_done(result_or_exception)` on the UI thread (the plugin
    contract: a failed fetch is the pane's to show, in place, e.g. "history unavailable")."""
    run_off_loop(
        app,
        lambda: fetcher(what, **kwargs),
        on_done,
        name=f"fetch-{what}",
        on_error=on_done,
        failure=f"The pane could not show the {what} it fetched",
    )


def in_flight(app: App[Any]) -> dict[str, int]:
    """The jobs running for `app` now, by name (empty when none)."""
    jobs = _jobs.get(app)
    return dict(jobs.running) if jobs is not None else {}


async def settled(app: App[Any], timeout: float = 10.0) -> None:
    """Return once no background job of `app` is in flight (a job whose handler starts the
    next one counts as one chain). Raises TimeoutError naming the jobs still running."""
    jobs = _jobs.get(app)
    if jobs is None:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while jobs.running:
        try:
            await asyncio.wait_for(jobs.idle.wait(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise TimeoutError(
                f"background jobs still running after {timeout}s: {dict(jobs.running)}"
            ) from None
