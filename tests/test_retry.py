"""The retry classification table and the deadline (kubediag.retry), with fake clocks: no sleeping."""

from __future__ import annotations

import random

import pytest

from kubediag.retry import DeadlineExceeded, backoff, call_with_retry, classify


class FakeApiError(Exception):
    """Shaped like kubernetes.client.exceptions.ApiException (status, reason, headers)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.reason = "reason"
        self.headers = headers or {}


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (FakeApiError(429), True),
        (FakeApiError(500), True),
        (FakeApiError(502), True),
        (FakeApiError(503), True),
        (FakeApiError(504), True),
        (FakeApiError(400), False),
        (FakeApiError(401), False),
        (FakeApiError(403), False),
        (FakeApiError(404), False),
        (FakeApiError(409), False),
        (FakeApiError(422), False),
        (FakeApiError(501), False),
        (ConnectionResetError("reset"), True),
        (ConnectionRefusedError("refused"), True),
        (TimeoutError("slow"), True),
        (DeadlineExceeded("late"), False),
        (ValueError("bug"), False),
    ],
)
def test_classification(exc: BaseException, retry: bool) -> None:
    assert classify(exc).retry is retry


def test_retry_after_is_honoured_for_429_and_503() -> None:
    assert classify(FakeApiError(429, {"Retry-After": "3"})).retry_after == 3.0
    assert classify(FakeApiError(503, {"Retry-After": "1"})).retry_after == 1.0
    assert classify(FakeApiError(500, {"Retry-After": "9"})).retry_after is None
    assert backoff(1, 3.0) == 3.0


def test_backoff_is_jittered_and_grows() -> None:
    rng = random.Random(1)
    first = [backoff(1, None, rng) for _ in range(50)]
    later = [backoff(5, None, rng) for _ in range(50)]
    assert len(set(first)) > 1
    assert max(first) <= 0.2 < min(later)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_retries_until_success() -> None:
    clock = Clock()
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise FakeApiError(503, {"Retry-After": "1"})
        return "ok"

    assert call_with_retry(fn, deadline=30, clock=clock, sleep=clock.sleep) == "ok"
    assert len(calls) == 3
    assert clock.now == 2.0  # two Retry-After waits of 1 s


def test_never_retries_final_errors() -> None:
    clock = Clock()
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        raise FakeApiError(403)

    with pytest.raises(FakeApiError):
        call_with_retry(fn, deadline=30, clock=clock, sleep=clock.sleep)
    assert len(calls) == 1


def test_gives_up_at_the_deadline() -> None:
    clock = Clock()
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        clock.now += 1.0  # each attempt takes a second
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        call_with_retry(fn, deadline=10, clock=clock, sleep=clock.sleep)
    assert clock.now <= 10.0 + 4.0
    assert 3 <= len(calls) <= 10


def test_deadline_already_passed() -> None:
    clock = Clock()
    clock.now = 5
    with pytest.raises(DeadlineExceeded):
        call_with_retry(lambda: "x", deadline=5, clock=clock, sleep=clock.sleep)
