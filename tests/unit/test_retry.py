"""The retry timing without HTTP: ``backoff_delay`` (growth, cap, jitter, the server's hint) and
``parse_retry_after`` (seconds, milliseconds, an HTTP date), with the clock and the random
source replaced, so that every figure is exact."""

from __future__ import annotations

import email.utils
from types import SimpleNamespace

import pytest

from provider.retry import MAX_DELAY, backoff_delay, parse_retry_after

CAP = 8.0  # seconds: the longest wait without a hint, as backoff_delay's docstring says
NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC


def jitter(monkeypatch: pytest.MonkeyPatch, value: float) -> None:
    monkeypatch.setattr("provider.retry.random", SimpleNamespace(random=lambda: value))


def test_backoff_doubles_from_the_base_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    jitter(monkeypatch, 0.0)
    assert [backoff_delay(n, 0.5) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff_delay(10, 0.5) == CAP  # 0.5 * 2**10 would be 512 s
    assert backoff_delay(10, 0.0) == 0.0


@pytest.mark.parametrize("attempt", [10, 100, 1_100, 10**6])
@pytest.mark.parametrize("random", [0.0, 0.5, 0.999_999])
def test_backoff_stays_within_the_cap_at_any_attempt(
    monkeypatch: pytest.MonkeyPatch, attempt: int, random: float
) -> None:
    jitter(monkeypatch, random)
    delay = backoff_delay(attempt, 0.5)
    assert delay is not None
    # Up to 25 % is taken off, never added.
    assert CAP * 0.75 <= delay <= CAP
    assert delay == pytest.approx(CAP * (1 - 0.25 * random))


def test_backoff_jitter_is_real_and_bounded() -> None:
    delays = {backoff_delay(10, 0.5) for _ in range(200)}
    assert all(d is not None and CAP * 0.75 <= d <= CAP for d in delays)
    assert len(delays) > 1  # many clients do not retry in step


@pytest.mark.parametrize(("hint", "expected"), [(0.0, 0.0), (2.5, 2.5), (MAX_DELAY, MAX_DELAY)])
def test_the_server_hint_is_waited_as_given(hint: float, expected: float) -> None:
    assert backoff_delay(0, 0.5, hint) == expected
    assert backoff_delay(10, 0.5, hint) == expected  # not capped at 8 s: the server knows best


def test_a_hint_longer_than_max_delay_gives_up() -> None:
    assert backoff_delay(0, 0.5, MAX_DELAY + 1) is None


@pytest.mark.parametrize(("ahead", "expected"), [(30, 30.0), (1, 1.0), (0, 0.0), (-30, 0.0)])
def test_an_http_date_is_the_seconds_until_it(
    monkeypatch: pytest.MonkeyPatch, ahead: int, expected: float
) -> None:
    monkeypatch.setattr("provider.retry.time", SimpleNamespace(time=lambda: NOW))
    date = email.utils.formatdate(NOW + ahead, usegmt=True)
    assert parse_retry_after({"retry-after": date}) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "nan", "retry-after": "9"}, 9.0),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers) == expected
