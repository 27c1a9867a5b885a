"""A well-behaved plugin pane."""

from mlopstui.plugin_api import API_VERSION, Pane


class GoodPane(Pane):
    """Declares the current API version and a unique id."""

    pane_id = "fake-good"
    title = "Good"
    api_version = API_VERSION


class DuplicatePane(Pane):
    """Valid on its own, but claims an id another pane already took."""

    pane_id = "fake-good"
    title = "Duplicate"
    api_version = API_VERSION


class FuturePane(Pane):
    """Written for a plugin API this mlopstui does not offer."""

    pane_id = "fake-future"
    title = "Future"
    api_version = 99


class NotAPane:
    """A class that is no Pane at all."""

    pane_id = "fake-not-a-pane"
    api_version = API_VERSION


def not_a_class() -> None:
    """An entry point pointing at a function."""


class UnversionedPane(Pane):
    """Declares no api_version at all (the base class has no default to inherit)."""

    pane_id = "fake-unversioned"
    title = "Unversioned"
