"""The one place that decides what is retried (kopf's rule): connection errors, timeouts, 429 (with
Retry-After) and 500/502/503/504 are retried with jittered exponential backoff until the run's deadline;
every other 4xx is final. Forbidden is data, not an error: the gatherer records it.

Pure of the `kubernetes` package: errors are classified by duck typing so the CLI's fast paths never import it.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base

T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FINAL_STATUSES = frozenset({400, 401, 403, 404, 405, 409, 410, 422})


# TLS failures that say nothing about the certificate: the peer went away mid-handshake.
_TLS_TRANSIENT = re.compile(
    r"UNEXPECTED_EOF|EOF occurred|reset by peer|Connection reset|Connection aborted|Broken pipe|timed out",
    re.IGNORECASE,
)
# TLS failures that another try cannot fix: verification, hostname, protocol (e.g. an http:// port).
_TLS_FINAL = re.compile(
    r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|hostname|doesn't match|WRONG_VERSION_NUMBER|"
    r"UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE",
    re.IGNORECASE,
)


class DeadlineExceeded(Exception):
    """The run's --timeout passed before a request could succeed."""


@dataclass(frozen=True)
class Classification:
    retry: bool
    status: int | None  # HTTP status, None for a transport error
    retry_after: float | None = None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of an ApiException-like error; None for transport errors. status 0 = transport."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status > 0:
        return status
    return None


def _retry_after(exc: BaseException) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("Retry-After") if hasattr(headers, "get") else None
    except Exception:  # pragma: no cover - exotic header containers
        value = None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def classify(exc: BaseException) -> Classification:
    """Decide whether one failed request is worth another try."""
    status = http_status(exc)
    if status is not None:
        if status in RETRY_STATUSES:
            return Classification(True, status, _retry_after(exc) if status in (429, 503) else None)
        return Classification(False, status)
    if isinstance(exc, DeadlineExceeded):
        return Classification(False, None)
    if getattr(exc, "status", None) == 0 and "SSL" in str(getattr(exc, "reason", "")):
        # The client wraps every TLS failure as ApiException(status=0, "SSLError ..."). A bad certificate or
        # a plain-HTTP port does not heal; a connection dropped or reset during the handshake does.
        reason = str(getattr(exc, "reason", ""))
        return Classification(bool(_TLS_TRANSIENT.search(reason)) and not _TLS_FINAL.search(reason), None)
    # Transport: urllib3 errors, ConnectionError, TimeoutError, OSError, ApiException(status=0)
    module = type(exc).__module__
    if (
        isinstance(exc, (ConnectionError, TimeoutError, OSError))
        or module.startswith("urllib3")
        or (getattr(exc, "status", None) == 0)
    ):
        return Classification(True, None)
    return Classification(False, None)


class _StopAtDeadline(stop_base):
    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        upcoming = retry_state.upcoming_sleep or 0.0
        return self.clock() + upcoming >= self.deadline


def backoff(attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: Retry-After when given, else full-jitter exponential."""
    if retry_after is not None:
        return min(retry_after, 30.0)
    cap = min(4.0, 0.2 * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(cap / 2, cap)


def _wait(retry_state: RetryCallState) -> float:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    ra = classify(exc).retry_after if exc else None
    return backoff(retry_state.attempt_number, ra)


def call_with_retry(
    fn: Callable[[], T],
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
) -> T:
    """Call `fn` until it succeeds, fails finally, or the deadline would pass. Re-raises the last error."""
    if clock() >= deadline:
        raise DeadlineExceeded("the deadline passed before the request was sent")
    retrying = Retrying(
        retry=retry_if_exception(lambda e: classify(e).retry),
        wait=_wait,
        stop=_StopAtDeadline(deadline, clock),
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
