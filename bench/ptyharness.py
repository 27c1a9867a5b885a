"""Run a command in a real pseudo-terminal and measure what it writes, when.

Pilot cannot measure latency (it waits for idle in 20 ms steps), so the benchmarks drive the
real program through a pty of fixed size, as a terminal would:

    with PtyApp(["mlopstui", ...], cols=200, rows=50) as app:
        frame = app.first_frame(r"synced \\d")       # seconds from exec to the first frame
        lat = app.press(KEYS["down"])              # key -> first byte written after it
        app.rss_kb(), app.cpu_seconds()            # from /proc, the child and its children

A reader thread drains the pty continuously (so the child never blocks on a full buffer) and
timestamps every chunk with `time.perf_counter()`. All times are perf_counter seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import signal
import struct
import termios
import threading
import time
from dataclasses import dataclass

# What a terminal sends for each key (xterm, normal cursor mode).
# Nothing listens here: the app shows cached data and says the server is unreachable.
UNREACHABLE = "http://127.0.0.1:9"
# The status bar's freshness text (any state): its appearance marks the app's first frame.
APP_MARKER = r"(synced \d\d:\d\d|unreachable since \d\d:\d\d|syncing…)"
KEYS = {
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "home": b"\x1b[H",
    "end": b"\x1b[F",
    "pageup": b"\x1b[5~",
    "pagedown": b"\x1b[6~",
    "enter": b"\r",
    "escape": b"\x1b",
    "backspace": b"\x7f",
    "tab": b"\t",
    "ctrl+q": b"\x11",
    "ctrl+c": b"\x03",
}

_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    rb"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    rb"|\x1bP[^\x1b]*\x1b\\"  # DCS
    rb"|\x1b[()][0-9A-Za-z]"  # charset
    rb"|\x1b[@-Z\\-_=>78]"  # other two-byte escapes
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def strip_ansi(data: bytes) -> str:
    """Printable text of terminal output (escape sequences removed)."""
    return _ANSI.sub(b"", data).decode("utf-8", "replace")


@dataclass
class Chunk:
    t: float  # perf_counter when read
    data: bytes


class PtyApp:
    """A child process on a pseudo-terminal of a fixed size, with every byte timestamped."""

    def __init__(
        self,
        argv: list[str],
        *,
        cols: int = 80,
        rows: int = 24,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.argv = argv
        self.cols, self.rows = cols, rows
        child_env = dict(os.environ if env is None else env)
        child_env.update(
            TERM="xterm-256color", COLORTERM="truecolor", LINES=str(rows), COLUMNS=str(cols)
        )
        for var in ("TMUX", "TEXTUAL", "TEXTUAL_DEVTOOLS_PORT"):
            child_env.pop(var, None)
        self.chunks: list[Chunk] = []
        self._cond = threading.Condition()
        self._closed = False
        winsize = struct.pack("HHHH", rows, cols, 0, 0)
        self.t_exec = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # child: set the size on its terminal, then exec
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, winsize)
                if cwd:
                    os.chdir(cwd)
                os.execvpe(argv[0], argv, child_env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, winsize)
        os.set_blocking(fd, False)
        self.exit_status: int | None = None
        self._reader = threading.Thread(target=self._read_loop, name="pty-reader", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ reading

    def _read_loop(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self._closed:
            try:
                events = poller.poll(50)
            except InterruptedError:
                continue
            if not events:
                continue
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            except OSError:  # EIO: the child closed the terminal
                break
            t = time.perf_counter()
            if not data:
                break
            with self._cond:
                self.chunks.append(Chunk(t, data))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        if self.exit_status is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.exit_status = status
        return False

    def output(self, since: float = 0.0, until: float = float("inf")) -> bytes:
        """Bytes read in [since, until)."""
        with self._cond:
            return b"".join(c.data for c in self.chunks if since <= c.t < until)

    def text(self, since: float = 0.0) -> str:
        """Printable text written since a time."""
        return strip_ansi(self.output(since))

    def bytes_between(self, t0: float, t1: float) -> int:
        """How many bytes were read in [t0, t1)."""
        with self._cond:
            return sum(len(c.data) for c in self.chunks if t0 <= c.t < t1)

    def last_byte_time(self) -> float | None:
        with self._cond:
            return self.chunks[-1].t if self.chunks else None

    def first_byte_after(self, t: float, timeout: float = 2.0) -> float | None:
        """Time of the first chunk read at or after t (None on timeout)."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                later = self._chunks_from(t)
                if later:
                    return later[0].t
                left = deadline - time.perf_counter()
                if left <= 0 or self._closed:
                    return None
                self._cond.wait(left)

    def _chunks_from(self, t: float) -> list[Chunk]:
        i = len(self.chunks)
        while i > 0 and self.chunks[i - 1].t >= t:
            i -= 1
        return self.chunks[i:]

    def wait_idle(
        self, idle: float = 0.1, timeout: float = 10.0, since: float | None = None
    ) -> float | None:
        """Wait until nothing has been written for `idle` seconds; return the time of the last
        byte before that quiet period (None if nothing was written since `since`).

        Returns None as well when the deadline passes while output keeps coming.
        """
        deadline = time.perf_counter() + timeout
        while True:
            now = time.perf_counter()
            last = self.last_byte_time()
            quiet_since = max(last or 0.0, since or 0.0)
            if now - quiet_since >= idle:
                if last is None or (since is not None and last < since):
                    return None
                return last
            if now >= deadline:
                return None
            with self._cond:
                self._cond.wait(min(idle - (now - quiet_since), deadline - now) + 0.001)

    def wait_for(self, pattern: str, timeout: float = 10.0, since: float = 0.0) -> float | None:
        """Time of the chunk that completed a match of `pattern` in the printable text
        written since `since` (None on timeout)."""
        rx = re.compile(pattern)
        deadline = time.perf_counter() + timeout
        with self._cond:
            checked = 0
            while True:
                chunks = self._chunks_from(since)
                buf = b"".join(c.data for c in chunks[:checked])
                for c in chunks[checked:]:
                    buf += c.data
                    checked += 1
                    if rx.search(strip_ansi(buf)):
                        return c.t
                left = deadline - time.perf_counter()
                if left <= 0 or self._closed:
                    return None
                self._cond.wait(left)

    # ------------------------------------------------------------------ measuring

    def first_frame(
        self, marker: str, idle: float = 0.1, timeout: float = 20.0
    ) -> tuple[float, int] | None:
        """The first complete frame: the marker (e.g. the status bar's text) has appeared and
        then nothing was written for `idle` seconds. Returns (seconds from exec to the LAST
        byte before that quiet period, bytes written up to and including it)."""
        seen = self.wait_for(marker, timeout=timeout)
        if seen is None:
            return None
        last = self.wait_idle(idle, timeout=timeout, since=seen)
        if last is None:
            last = seen
        with self._cond:
            size = sum(len(c.data) for c in self.chunks if c.t <= last)
        return last - self.t_exec, size

    def send(self, data: bytes | str) -> float:
        """Write keys to the terminal; returns the time just before the write."""
        if isinstance(data, str):
            data = data.encode()
        t = time.perf_counter()
        os.write(self.fd, data)
        return t

    def press(
        self, key: bytes | str, *, settle: float = 0.05, timeout: float = 2.0
    ) -> tuple[float | None, float | None]:
        """Send a key and return (seconds to the first byte written after it, seconds to the
        last byte before output went quiet for `settle` seconds); None where nothing came."""
        r = self.press_ex(key, settle=settle, timeout=timeout)
        return r["first"], r["done"]

    def press_ex(self, key: bytes | str, *, settle: float = 0.05, timeout: float = 2.0) -> dict:
        """Like press(), as a dict that also has the bytes written in response."""
        t = self.send(key)
        first = self.first_byte_after(t, timeout)
        if first is None:
            return {"first": None, "done": None, "bytes": 0}
        done = self.wait_idle(settle, timeout=timeout, since=t)
        end = done if done is not None else time.perf_counter()
        return {
            "first": first - t,
            "done": (done - t) if done is not None else None,
            "bytes": self.bytes_between(t, end + 1e-9),
        }

    def settle(self, idle: float = 0.1, timeout: float = 10.0) -> None:
        """Wait until the output has been quiet for `idle` seconds (returns at once if it has
        been; after sending a key, use `wait_idle(idle, since=send_time)`)."""
        self.wait_idle(idle, timeout=timeout)

    def pids(self) -> list[int]:
        """The child and all its descendants."""
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        todo.extend(int(p) for p in f.read().split())
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        return out

    def rss_kb(self) -> int:
        """Resident memory (VmRSS) of the child and its descendants, in KiB."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
                            break
            except FileNotFoundError:
                pass
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the child and its descendants (all threads)."""
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
            except FileNotFoundError:
                pass
        return total / CLK_TCK

    # ------------------------------------------------------------------ ending

    def close(self, quit_keys: bytes = KEYS["ctrl+q"], timeout: float = 5.0) -> int | None:
        """Ask the app to quit, then terminate/kill it if it will not; returns the status."""
        if self.alive:
            with contextlib.suppress(OSError):
                os.write(self.fd, quit_keys)
            deadline = time.time() + timeout
            while self.alive and time.time() < deadline:
                time.sleep(0.02)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if not self.alive:
                    break
                os.kill(self.pid, sig)
                deadline = time.time() + 2
                while self.alive and time.time() < deadline:
                    time.sleep(0.02)
        self._closed = True
        self._reader.join(1)
        with contextlib.suppress(OSError):
            os.close(self.fd)
        return self.exit_status

    def __enter__(self) -> PtyApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (nearest rank on linear interpolation), None for no values."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def wait_cpu_quiet(app: PtyApp, window: float = 1.0, limit: float = 0.03, timeout=20.0) -> float:
    """Wait until the app used under `limit` CPU seconds in a `window` (background imports
    and the first sync attempts are over); returns the seconds waited."""
    t0 = time.perf_counter()
    last = app.cpu_seconds()
    while time.perf_counter() - t0 < timeout:
        time.sleep(window)
        now = app.cpu_seconds()
        if now - last < limit:
            break
        last = now
    app.settle(0.2)
    return time.perf_counter() - t0
