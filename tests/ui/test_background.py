"""ui.background: blocking work off the loop, its answer on the loop, one error handler."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from mlopstui.plugin_api import API_VERSION, Pane
from mlopstui.plugin_api.testing import PaneHarness
from mlopstui.ui import background

from .builders import build_cache, notifications

HOSTILE = "server said \x1b]52;c;cHduZWQ=\x07no\x1b[31m way"


class Host(App):
    """The smallest app to run jobs on."""

    def compose(self) -> ComposeResult:
        yield Static("host")


async def test_a_result_reaches_on_done_on_the_ui_thread():
    app = Host()
    answers: list[tuple[object, int]] = []
    worker_threads: list[threading.Thread] = []

    def work() -> int:
        worker_threads.append(threading.current_thread())
        return 42

    async with app.run_test() as pilot:
        background.run_off_loop(
            app, work, lambda r: answers.append((r, threading.get_ident())), name="answer"
        )
        assert background.in_flight(app) == {"answer": 1}
        await background.settled(app)
        await pilot.pause()
        assert answers == [(42, threading.get_ident())]  # on the loop's thread
        assert worker_threads[0] is not threading.main_thread()
        assert worker_threads[0].daemon and worker_threads[0].name == "answer"
        assert background.in_flight(app) == {}


async def test_a_failure_reaches_the_one_handler_as_a_readable_toast(caplog):
    app = Host()

    def broken() -> None:
        raise ConnectionError(HOSTILE)

    async with app.run_test(notifications=True) as pilot:
        with caplog.at_level(logging.ERROR, logger="mlopstui.ui.background"):
            background.run_off_loop(
                app, broken, lambda r: pytest.fail("no result"), name="dead", failure="Fetch"
            )
            await background.settled(app)
        await pilot.pause()
        [(message, severity)] = notifications(app)
        assert severity == "error"
        assert message == "Fetch: server said no way (details in the log)"
        assert "Traceback" not in message and "\x1b" not in message
        # The traceback went to the log, not the screen.
        [record] = caplog.records
        assert record.exc_info is not None and "dead" in record.getMessage()


async def test_on_error_gets_the_exception_and_a_bug_in_a_handler_is_reported():
    app = Host()
    got: list[BaseException] = []

    def broken() -> None:
        raise KeyError("run_id")

    def buggy_on_done(result: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'name'")

    async with app.run_test(notifications=True) as pilot:
        background.run_off_loop(app, broken, name="keyed", on_error=got.append)
        background.run_off_loop(
            app, lambda: 1, buggy_on_done, name="buggy", failure="Showing the run"
        )
        await background.settled(app)
        await pilot.pause()
        assert [type(e) for e in got] == [KeyError]
        assert background.readable(got[0]) == "KeyError: 'run_id'"  # a bug names its type
        [(message, _)] = notifications(app)
        assert message.startswith("Showing the run: AttributeError: 'NoneType' object")
        assert app.is_running  # a handler's bug does not take the app down


def test_readable_is_one_clean_line():
    assert background.readable(ConnectionError("refused")) == "refused"
    assert background.readable(TimeoutError()) == "TimeoutError"
    assert background.readable(OSError("a\nb\tc")) == "a b c"
    assert len(background.readable(ValueError("x" * 1000), limit=50)) == 50


async def test_settled_waits_for_a_chain_and_times_out_naming_the_job():
    app = Host()
    release = threading.Event()
    order: list[str] = []

    async with app.run_test():
        await background.settled(app)  # nothing ran yet: at once

        def first_done(_: object) -> None:
            order.append("first")
            background.run_off_loop(app, release.wait, lambda _: order.append("second"), name="2nd")

        background.run_off_loop(app, lambda: None, first_done, name="1st")
        with pytest.raises(TimeoutError, match="2nd"):
            await background.settled(app, timeout=0.2)
        assert order == ["first"]
        release.set()
        await background.settled(app)
        assert order == ["first", "second"]


async def test_jobs_on_an_executor_keep_their_order():
    from concurrent.futures import ThreadPoolExecutor

    app = Host()
    done: list[int] = []
    executor = ThreadPoolExecutor(max_workers=1)
    async with app.run_test():
        for n in range(5):
            background.run_off_loop(
                app,
                lambda n=n: (time.sleep(0.01 * (5 - n)), n)[1],
                done.append,
                name="ordered",
                executor=executor,
            )
        await background.settled(app)
    executor.shutdown()
    assert done == [0, 1, 2, 3, 4]


async def test_quitting_does_not_wait_for_a_job_that_hangs():
    app = Host()
    hang = threading.Event()
    try:
        async with app.run_test() as pilot:
            background.run_off_loop(app, hang.wait, lambda _: None, name="hung-fetch")
            await pilot.pause()
            started = time.monotonic()
            app.exit()
        assert time.monotonic() - started < 0.3
    finally:
        hang.set()  # the late answer finds the app gone and is dropped quietly


class FetchingPane(Pane):
    """A plugin-style pane that fetches on mount and shows what came back."""

    pane_id = "fetching"
    title = "Fetching"
    api_version = API_VERSION
    topics = frozenset()

    def compose(self) -> ComposeResult:
        yield Static("fetching…", id="answer")

    def on_mount(self) -> None:
        self.ctx.fetch("artifacts", self.show, run_id="r1")

    def show(self, result: object) -> None:
        shown = (
            f"unavailable: {background.readable(result)}"
            if isinstance(result, Exception)
            else result
        )
        self.query_one("#answer", Static).update(str(shown))


@pytest.mark.parametrize(
    ("fetcher", "shown"),
    [
        (lambda what, **kw: f"{what} of {kw['run_id']}", "artifacts of r1"),
        (
            lambda what, **kw: (_ for _ in ()).throw(ConnectionError("refused")),
            "unavailable: refused",
        ),
    ],
)
async def test_the_harness_fetch_hands_the_result_or_the_exception_to_on_done(
    tmp_path, fetcher, shown
):
    harness = PaneHarness(
        FetchingPane, build_cache(tmp_path / "c.sqlite", "loaded"), fetcher=fetcher
    )
    async with harness.run_test() as pilot:
        await harness.settled()
        await pilot.pause()
        assert str(harness.query_one("#answer", Static).render()) == shown
        assert harness.notifications == []  # the pane showed it in place: no toast


async def test_the_harness_quits_at_once_while_a_fetch_hangs(tmp_path):
    hang = threading.Event()
    harness = PaneHarness(
        FetchingPane,
        build_cache(tmp_path / "c.sqlite", "loaded"),
        fetcher=lambda *a, **k: hang.wait(),
    )
    try:
        async with harness.run_test() as pilot:
            await pilot.pause()
            assert background.in_flight(harness) == {"fetch-artifacts": 1}
            started = time.monotonic()
            await pilot.press("ctrl+q")
        assert time.monotonic() - started < 0.3
    finally:
        hang.set()


async def test_the_workbench_quits_at_once_while_the_detail_fetches_hang(
    app_for, cache, monkeypatch
):
    """The run detail asks for histories and artifacts from a server that never answers;
    their late answers find the app gone and are dropped (no handler runs on a dead screen)."""
    from mlopstui.ui.screens.run_detail import RunDetailScreen

    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    hang = threading.Event()
    app = app_for(cache, fetcher=lambda what, **kw: hang.wait())
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, RunDetailScreen)
            await pilot.press("escape")
            await pilot.pause()
            started = time.monotonic()
            await pilot.press("q")
        assert time.monotonic() - started < 0.3
    finally:
        hang.set()
    fetches = [t for t in threading.enumerate() if t.name.startswith("fetch-")]
    for thread in fetches:
        thread.join(timeout=2)
    assert [t.name for t in fetches if t.is_alive()] == []  # none blocked on the dead app
    assert raised == []
