"""Plugin sources for the catalogue tests: one well-behaved, and each way of breaking."""

from mlopstui.sources import SOURCE_API_VERSION, Check, Source, SourceInfo, StatusItem
from mlopstui.sync.scheduler import Job


class CounterSource(Source):
    """Syncs a counter: each run 'writes' one row and announces topic 'counter'."""

    name = "counter"
    title = "Counter"
    api_version = SOURCE_API_VERSION
    topics = frozenset({"counter"})
    fetches = frozenset({"count"})

    def __init__(self, env):
        super().__init__(env)
        self.runs = 0
        self.closed = False

    def _run(self) -> int:
        self.runs += 1
        self.env.announce(self.name, {"counter"})
        return 1

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        return [Job(self.name, "count", 60.0, self._run)]

    def info(self) -> SourceInfo:
        return SourceInfo(
            self.name, "counter service", details={"step": self.env.config.get("step", 1)}
        )

    def status(self) -> list[StatusItem]:
        return [StatusItem("counter service", feed=self.name)]

    def fetch(self, what: str, **kwargs):
        return self.runs

    def check(self) -> list[Check]:
        return [Check(self.name, True, f"step {self.env.config.get('step', 1)}")]

    def close(self) -> None:
        self.closed = True


class FailingJobsSource(Source):
    """Opens, but cannot give its jobs (a bad setting found late)."""

    name = "failing-jobs"
    api_version = SOURCE_API_VERSION

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        raise ValueError("no endpoint configured")

    def check(self) -> list[Check]:
        raise RuntimeError("check exploded")


class OpenFails(Source):
    """Raises while it opens."""

    name = "open-fails"
    api_version = SOURCE_API_VERSION

    def __init__(self, env):
        raise OSError("cannot open the quota file")


class FutureSource(Source):
    """Written for a source API this mlopstui does not offer."""

    name = "future"
    api_version = 99


class Unversioned(Source):
    """Declares no api_version at all."""

    name = "unversioned"


class DuplicateSource(CounterSource):
    """Valid, but takes a name already taken."""


class NotASource:
    """Not a Source subclass."""
