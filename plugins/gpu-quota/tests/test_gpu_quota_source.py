"""The gpu-quota source against a real (loopback) quota service and a real cache."""

from __future__ import annotations

import re
import time

import pytest
from mlopstui_gpu_quota import source as quota
from mlopstui_gpu_quota.source import QuotaError, QuotaSource

from mlopstui.plugin_api import SOURCE_API_VERSION, Source, data


def stored(cache) -> dict[str, dict]:
    conn = cache.reader()
    try:
        return dict(data.records(conn, "gpu-quota", "teams"))
    finally:
        conn.close()


def test_declares_the_source_contract() -> None:
    assert issubclass(QuotaSource, Source)
    assert QuotaSource.name == "gpu-quota"
    assert QuotaSource.api_version == SOURCE_API_VERSION
    assert QuotaSource.topics == {"gpu-quota"}
    assert QuotaSource.feed_names() == ("gpu-quota",)


def test_opening_does_no_network_io(cache, quota_service) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url}))
    source.info()
    source.status()
    assert quota_service.requests == 0


def test_a_sync_stores_the_snapshot_and_announces_it(cache, quota_service) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url, "interval": 30, "timeout": 2}))
    [job] = source.jobs()
    assert (job.source, job.name, job.interval) == ("gpu-quota", "teams", 30.0)

    assert job.run() == 3
    assert stored(cache) == {t["team"]: t for t in quota_service.teams}
    assert cache.announced == [("gpu-quota", {"gpu-quota"})]

    # The next snapshot replaces the whole topic: a team the service dropped is gone.
    quota_service.teams = [{"team": "nlp", "quota_gpus": 20, "used_gpus": 1}]
    assert job.run() == 1
    assert stored(cache) == {"nlp": {"team": "nlp", "quota_gpus": 20, "used_gpus": 1}}


def test_status_info_and_check(cache, quota_service) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url + "/"}))
    [item] = source.status()
    assert item.feed == "gpu-quota"
    assert item.label == quota_service.url + "/"
    info = source.info()
    assert (info.name, info.configured, info.error) == ("gpu-quota", True, None)
    [check] = source.check()
    assert check.ok is True
    assert check.detail.startswith(f"{quota_service.url}/quotas: 3 teams, 1 over quota (")


def test_the_endpoint_keeps_the_path_and_query_of_the_url(cache, quota_service) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url + "/?team=all"}))
    assert source.info().label == quota_service.url + "/"
    assert source.jobs()[0].run() == 3
    assert quota_service.paths == ["/quotas?team=all"]


def test_no_url_means_off(cache) -> None:
    source = QuotaSource(cache.env({}))
    assert source.jobs() == []
    assert source.status() == []
    assert source.info().configured is False
    [check] = source.check()
    assert check.ok is None
    assert "[sources.gpu-quota]" in check.detail


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"url": "ftp://quota"}, "url: expected http(s)://HOST[:PORT]"),
        ({"url": "http://quota:99999"}, "url: expected http(s)://HOST[:PORT]"),
        ({"url": 42}, "url: expected a string"),
        ({"url": "http://quota", "timeout": 0}, "timeout: expected a number of seconds > 0"),
        ({"url": "http://quota", "interval": "often"}, "interval: expected a number of seconds"),
    ],
)
def test_a_config_mistake_is_reported_not_raised_at_open(cache, config, message) -> None:
    source = QuotaSource(cache.env(config))  # opening never fails for a setting
    with pytest.raises(QuotaError, match=re.escape(message)):
        source.jobs()
    [check] = source.check()
    assert check.ok is False and message in check.detail
    assert source.info().error and message in source.info().error


def test_the_label_never_shows_credentials(cache) -> None:
    source = QuotaSource(cache.env({"url": "https://ana:s3cret@quota.example/api?token=abc"}))
    shown = [source.info().label, str(source.info().as_dict()), source.status()[0].label]
    assert source.info().label == "https://quota.example/api"
    assert not [s for s in shown if "s3cret" in s or "abc" in s]


# ---------------------------------------------------------------------- misbehaving endpoint


BAD_PAYLOADS = [
    ([{"team": "nlp"}], 'expected {"teams": [...]}, got a list'),
    ({"quotas": []}, 'expected {"teams": [...]}, got an object'),
    ({"teams": ["nlp"]}, "teams[0]: expected an object, got a string"),
    ({"teams": [{"quota_gpus": 1, "used_gpus": 0}]}, "teams[0].team: expected a non-empty"),
    (
        {"teams": [{"team": "nlp", "quota_gpus": "16", "used_gpus": 1}]},
        'teams[0].quota_gpus ("nlp"): expected a whole number >= 0, got "16"',
    ),
    (
        {"teams": [{"team": "nlp", "quota_gpus": 16, "used_gpus": -1}]},
        "teams[0].used_gpus",
    ),
    (
        {"teams": [{"team": "nlp", "quota_gpus": True, "used_gpus": 1}]},
        "got true",
    ),
    (
        {"teams": [{"team": "a", "quota_gpus": 1, "used_gpus": 0}] * 2},
        'teams[1].team: "a" is listed twice',
    ),
]


@pytest.mark.parametrize(
    ("mode", "payload", "message"),
    [
        ("500", None, "HTTP 500 Internal Server Error"),
        ("html", None, "the reply is not JSON (line 1 column 1): '<html><body>"),
        ("huge-declared", None, "the reply is 2000013 bytes, over 1000000"),
        ("huge-undeclared", None, "the reply is over 1000000 bytes"),
        *[("json", payload, message) for payload, message in BAD_PAYLOADS],
    ],
)
def test_a_bad_reply_fails_the_sync_and_keeps_the_snapshot(
    cache, quota_service, mode, payload, message
) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url, "timeout": 5}))
    [job] = source.jobs()
    assert job.run() == 3
    before = stored(cache)

    quota_service.mode, quota_service.payload = mode, payload
    with pytest.raises(QuotaError) as failed:
        job.run()
    error = str(failed.value)
    assert message in error
    assert error.startswith(quota_service.url + "/quotas: ")
    assert "\n" not in error and len(error) < 300
    assert "Traceback" not in error
    assert stored(cache) == before
    assert cache.announced == [("gpu-quota", {"gpu-quota"})]  # only the good sync announced
    [check] = source.check()
    assert check.ok is False and message in check.detail


@pytest.mark.parametrize("mode", ["trickle-body", "trickle-headers", "stall"])
def test_the_deadline_holds_against_a_slow_server(cache, quota_service, mode) -> None:
    source = QuotaSource(cache.env({"url": quota_service.url, "timeout": 0.5}))
    [job] = source.jobs()
    assert job.run() == 3
    before = stored(cache)

    quota_service.mode = mode
    started = time.monotonic()
    with pytest.raises(QuotaError, match=r"/quotas: no complete reply within 0\.5 s$"):
        job.run()
    assert time.monotonic() - started < 1.5
    assert stored(cache) == before


def test_a_closed_port_fails_the_sync_readably(cache, closed_url) -> None:
    source = QuotaSource(cache.env({"url": closed_url, "timeout": 2}))
    [job] = source.jobs()
    with pytest.raises(QuotaError, match=r"^http://127\.0\.0\.1:\d+/quotas: cannot connect: "):
        job.run()
    [check] = source.check()
    assert check.ok is False and "cannot connect" in check.detail


def test_the_size_cap_stops_reading(quota_service) -> None:
    """The read stops just past the cap instead of taking in the whole 2 MB."""
    quota_service.mode = "huge-undeclared"
    with pytest.raises(QuotaError, match="over 1000 bytes"):
        quota.fetch(quota_service.url + "/quotas", 5, max_bytes=1000)


def test_whole_numbers_given_as_floats_are_accepted() -> None:
    body = b'{"teams": [{"team": "nlp", "quota_gpus": 16.0, "used_gpus": 3}], "extra": 1}'
    assert quota.parse_teams(body, "x") == [{"team": "nlp", "quota_gpus": 16, "used_gpus": 3}]
