"""`--probe` I/O: the port-forward protocol through the API server, one WebSocket per sampled pod.

kubediag never connects to a pod IP or a ClusterIP: every byte goes to the API server (`pods/portforward`,
the WebSocket flavour of what `kubectl port-forward` uses, subprotocol `v4.channel.k8s.io`), which hands it to
the node's kubelet, which connects to the port on the pod's localhost. Per port the kubelet opens a data
channel and an error channel; a failed dial (`connection refused`) arrives as text on the error channel.

This module does not import `kubernetes`: the gatherer (kubediag.gather), which owns the client
configuration and credentials, passes an `Opener` that performs the authenticated upgrade. The retry
policy (kubediag.retry) applies to that upgrade (the API server), never to the pod's answer: a refusal is
an answer, and a probe that cannot complete is `inconclusive`, never `refused`.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from kubediag.probes import Outcome, ProbeRun, Result, RunState, Target
from kubediag.retry import DeadlineExceeded, call_with_retry

SUBPROTOCOL = "v4.channel.k8s.io"
PER_ATTEMPT = 2.0  # seconds for one pod's probe once its stream is up
TCP_GRACE = 0.3  # no error this long after the stream is up: the kubelet's dial succeeded (port open)
CONCURRENCY = 4
_STATUS_LINE = re.compile(rb"^HTTP/\d(?:\.\d)? (\d{3})(?: ([^\r\n]*))?\r?\n")


class Socket(Protocol):
    """The part of websocket-client's WebSocket this module uses."""

    def settimeout(self, timeout: float | None) -> None: ...
    def recv_data_frame(self, control_frame: bool = ...) -> tuple[int, Any]: ...
    def send_binary(self, payload: bytes) -> Any: ...
    def close(self, status: int = ..., reason: bytes = ..., timeout: float = ...) -> None: ...


# (namespace, pod, ports, timeout) -> an open WebSocket; raises UpgradeError (HTTP answer) or OSError
Opener = Callable[[str, str, Sequence[int], float], Socket]


class UpgradeError(Exception):
    """The API server answered the port-forward upgrade with an HTTP status (403, 404, 500...)."""

    def __init__(self, status: int, reason: str, headers: Any = None) -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status  # read by kubediag.retry.classify: 429/5xx are retried, 403 is final
        self.reason = reason
        self.headers = headers or {}


class Forbidden(Exception):
    """create pods/portforward is forbidden: the whole probe is skipped."""


def classify_error(text: str) -> Outcome:
    """What the kubelet's error channel says about the pod's port."""
    low = text.lower()
    if "connection refused" in low:
        return Outcome.REFUSED
    if "connection reset" in low:
        return Outcome.RESET
    return Outcome.INCONCLUSIVE


def _clean(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Port:
    target: Target
    index: int
    data: bytearray = field(default_factory=bytearray)
    error: str = ""
    data_init: bool = False
    error_init: bool = False
    sent: bool = False
    result: Result | None = None


def http_request(path: str, port: int) -> bytes:
    from kubediag import __version__

    return (
        f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nUser-Agent: kubediag/{__version__} (--probe)\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("latin-1", "replace")


def _finish_http(p: _Port) -> Result | None:
    m = _STATUS_LINE.match(bytes(p.data[:512]))
    if m:
        reason = m.group(2).decode("latin-1", "replace") if m.group(2) else ""
        return Result(p.target, Outcome.HTTP, _clean(f"HTTP {m.group(1).decode()} {reason}"), int(m.group(1)))
    if len(p.data) >= 512 or (p.data and b"\n" in p.data):
        return Result(
            p.target, Outcome.OPEN, "answered, but not with HTTP: " + _clean(repr(bytes(p.data[:40]))[2:-1])
        )
    return None


def probe_pod(
    ws: Socket,
    targets: Sequence[Target],
    deadline: float,
    per_attempt: float = PER_ATTEMPT,
    grace: float = TCP_GRACE,
    clock: Callable[[], float] = time.monotonic,
) -> list[Result]:
    """Drive one port-forward WebSocket (already open, one channel pair per target, in order) to a result per
    target. Never raises for what the pod or the stream does: unfinished targets end `inconclusive`."""
    from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

    ports = [_Port(t, i) for i, t in enumerate(targets)]
    started: float | None = None  # when every channel was initialised (the kubelet side is up)
    attempt_end = min(deadline, clock() + per_attempt)
    closed = ""
    try:
        while any(p.result is None for p in ports):
            now = clock()
            if started is not None:
                for p in ports:
                    if p.result is not None:
                        continue
                    if p.error:
                        continue  # finished below when the error text is complete (next frame or close)
                    if p.target.http_path is None and now - started >= grace:
                        p.result = Result(p.target, Outcome.OPEN, "connection accepted")
                    elif p.target.http_path is not None and not p.sent:
                        ws.send_binary(bytes([p.index * 2]) + http_request(p.target.http_path, p.target.port))
                        p.sent = True
                if all(p.result is not None for p in ports):
                    break
            wait = attempt_end - now
            if started is not None and any(p.target.http_path is None and p.result is None for p in ports):
                wait = min(wait, max(0.01, started + grace - now))
            if wait <= 0:
                break
            ws.settimeout(wait)
            try:
                opcode, frame = ws.recv_data_frame(True)
            except WebSocketTimeoutException:
                continue
            if opcode == ABNF.OPCODE_CLOSE:
                closed = "the port-forward stream closed before an answer"
                break
            if opcode not in (ABNF.OPCODE_BINARY, ABNF.OPCODE_TEXT) or not frame.data:
                continue
            payload = frame.data if isinstance(frame.data, bytes) else bytes(frame.data, "latin-1")
            channel, body = payload[0], payload[1:]
            if channel // 2 >= len(ports):
                continue
            p = ports[channel // 2]
            if channel % 2 == 0:
                if not p.data_init:
                    p.data_init = True
                elif p.result is None:
                    p.data.extend(body)
                    if p.target.http_path is not None:
                        p.result = _finish_http(p)
            else:
                if not p.error_init:
                    p.error_init = True
                elif p.result is None:
                    p.error += body.decode("utf-8", "replace")
                    p.result = Result(p.target, classify_error(p.error), _clean(_error_tail(p.error)))
            if started is None and all(q.data_init and q.error_init for q in ports):
                started = clock()
                attempt_end = min(deadline, started + per_attempt)
    except WebSocketConnectionClosedException:
        closed = "the port-forward stream closed before an answer"
    except (OSError, ValueError) as exc:
        closed = f"the port-forward stream failed: {_clean(str(exc) or type(exc).__name__)}"
    out = []
    for p in ports:
        if p.result is None and p.target.http_path is not None and p.data:
            p.result = _finish_http(p)
        if p.result is not None:
            out.append(p.result)
        elif p.data:  # part of an answer, then nothing: what the pod meant is unknown
            why = closed or f"no complete answer in {per_attempt:g}s"
            out.append(Result(p.target, Outcome.INCONCLUSIVE, f"{why} (partial answer: {len(p.data)} bytes)"))
        elif closed:
            out.append(
                Result(p.target, Outcome.INCONCLUSIVE, closed + (" (partial answer)" if p.data else ""))
            )
        elif clock() >= deadline:
            out.append(Result(p.target, Outcome.INCONCLUSIVE, "the --timeout deadline passed"))
        elif started is None:
            out.append(
                Result(p.target, Outcome.INCONCLUSIVE, "the port-forward stream did not start in time")
            )
        else:
            out.append(
                Result(p.target, Outcome.TIMEOUT, f"connection accepted, no HTTP answer in {per_attempt:g}s")
            )
    return out


def _error_tail(text: str) -> str:
    """The kubelet's message without its `error forwarding port 80 to pod x, uid y:` preamble."""
    m = re.match(r"error forwarding port \d+ to pod [^,]*, uid [^:]*:\s*(.*)", text, re.S)
    return m.group(1) if m else text


def run(
    opener: Opener,
    namespace: str,
    targets: Sequence[Target],
    deadline: float,
    ready_endpoints: int,
    sample: int,
    concurrency: int = CONCURRENCY,
    per_attempt: float = PER_ATTEMPT,
) -> ProbeRun:
    """Probe every target (grouped per pod: one port-forward each), a few pods at a time, within `deadline`.
    A 403 on any upgrade skips the whole probe (the permission is named); other upgrade failures make that
    pod's targets inconclusive."""
    immediate = [
        Result(t, Outcome.NOT_PROBED, f"{t.protocol} is not probed (TCP only)")
        for t in targets
        if t.protocol != "TCP"
    ]
    by_pod: dict[str, list[Target]] = {}
    for t in targets:
        if t.protocol == "TCP":
            by_pod.setdefault(t.pod, []).append(t)
    forbidden = threading.Event()

    def one(pod: str, all_ts: list[Target]) -> list[Result]:
        if forbidden.is_set():
            return []
        # one channel pair per port number: two Service ports may resolve to the same container port
        unique: dict[int, Target] = {}
        for t in all_ts:
            if t.port not in unique or (unique[t.port].http_path is None and t.http_path is not None):
                unique[t.port] = t
        ts = list(unique.values())
        ports = [t.port for t in ts]

        def spread(found: list[Result]) -> list[Result]:
            by_port = {r.target.port: r for r in found}
            return [replace(by_port[t.port], target=t) for t in all_ts if t.port in by_port]

        try:
            ws = call_with_retry(
                lambda: opener(namespace, pod, ports, max(0.5, min(5.0, deadline - time.monotonic()))),
                deadline,
            )
        except UpgradeError as exc:
            if exc.status == 403:
                forbidden.set()
                return []
            why = f"port-forward upgrade failed: {_clean(str(exc))}"
            return [Result(t, Outcome.INCONCLUSIVE, why) for t in all_ts]
        except DeadlineExceeded:
            return [Result(t, Outcome.INCONCLUSIVE, "the --timeout deadline passed") for t in all_ts]
        except Exception as exc:  # transport to the API server, after retries
            why = f"port-forward failed: {_clean(str(exc) or type(exc).__name__)}"
            return [Result(t, Outcome.INCONCLUSIVE, why) for t in all_ts]
        try:
            return spread(probe_pod(ws, ts, deadline, per_attempt))
        finally:
            with contextlib.suppress(Exception):
                ws.close(timeout=0.2)

    results: list[Result] = list(immediate)
    if by_pod:
        with ThreadPoolExecutor(
            max_workers=max(1, min(concurrency, len(by_pod))), thread_name_prefix="kubediag-probe"
        ) as pool:
            for res in pool.map(lambda kv: one(*kv), by_pod.items()):
                results.extend(res)
    if forbidden.is_set():
        return ProbeRun(
            RunState.SKIPPED,
            f"probe skipped: create pods/portforward forbidden in namespace {namespace}",
            sample=sample,
            ready_endpoints=ready_endpoints,
        )
    order = {t: i for i, t in enumerate(targets)}
    results.sort(key=lambda r: order.get(r.target, 0))
    return ProbeRun(RunState.DONE, "", tuple(results), sample, ready_endpoints)
