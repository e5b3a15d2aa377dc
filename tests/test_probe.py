"""--probe without a cluster: the port-forward protocol driver against scripted WebSocket frames, the plan
(which endpoints and ports), and the per-endpoint rendering. No sockets: a fake WebSocket replays frames."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import jsonschema
import pytest
from fixtureload import build_data
from websocket import ABNF, WebSocketConnectionClosedException, WebSocketTimeoutException

from kubediag import portforward
from kubediag.engine import diagnose
from kubediag.kinds import from_builtin
from kubediag.mask import Masker
from kubediag.model import Kind
from kubediag.objects import Pod
from kubediag.portforward import UpgradeError, classify_error, probe_pod
from kubediag.probes import (
    DataPlane,
    Outcome,
    Role,
    RunState,
    Target,
    crashed_containers,
    log_targets,
    plan,
    ready_endpoints,
    sample_endpoints,
)
from kubediag.render import json as render_json
from kubediag.render import markdown as render_markdown
from kubediag.schemas import load
from kubediag.snapshot import Snapshot


class Frame:
    def __init__(self, data: bytes) -> None:
        self.data = data


class FakeWS:
    """Replays (delay, opcode, payload) frames; a payload of None raises 'closed'. Records what was sent."""

    def __init__(self, frames: Sequence[tuple[int, bytes | None]], clock: list[float]) -> None:
        self.frames = list(frames)
        self.sent: list[bytes] = []
        self.clock = clock
        self.timeout: float | None = None

    def settimeout(self, timeout: float | None) -> None:
        self.timeout = timeout

    def recv_data_frame(self, control_frame: bool = False) -> tuple[int, Any]:
        if not self.frames:
            self.clock[0] += self.timeout or 0  # nothing more: the wait times out
            raise WebSocketTimeoutException("timed out")
        opcode, payload = self.frames.pop(0)
        if payload is None:
            raise WebSocketConnectionClosedException("closed")
        return opcode, Frame(payload)

    def send_binary(self, payload: bytes) -> None:
        self.sent.append(payload)

    def close(self, status: int = 1000, reason: bytes = b"", timeout: float = 0) -> None:
        pass


def init(n: int) -> list[tuple[int, bytes | None]]:
    """The kubelet's first frame on every channel: the port, little endian."""
    return [(ABNF.OPCODE_BINARY, bytes([c]) + (80).to_bytes(2, "little")) for c in range(2 * n)]


def data(channel: int, body: bytes) -> tuple[int, bytes | None]:
    return (ABNF.OPCODE_BINARY, bytes([channel]) + body)


def t(port: int = 80, http: str | None = "/", pod: str = "web-1") -> Target:
    return Target(pod, "node-a", "deployment/web", port, "TCP", Role.SERVICE, "http", http)


def drive(frames: list[tuple[int, bytes | None]], targets: Sequence[Target], deadline: float = 100.0) -> list[Any]:
    clock = [0.0]
    ws = FakeWS(frames, clock)
    out = probe_pod(ws, targets, deadline, per_attempt=2.0, grace=0.3, clock=lambda: clock[0])
    return [(r.outcome, r.status, r.detail) for r in out]


def test_http_answer_is_parsed() -> None:
    got = drive([*init(1), data(0, b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n")], [t()])
    assert got == [(Outcome.HTTP, 503, "HTTP 503 Service Unavailable")]


def test_refusal_comes_from_the_error_channel() -> None:
    msg = b"error forwarding port 80 to pod web-1, uid : failed to dial: dial tcp 127.0.0.1:80: connect: connection refused"
    got = drive([*init(1), data(1, msg)], [t()])
    assert got[0][0] is Outcome.REFUSED and got[0][2].startswith("failed to dial")


def test_reset_and_unknown_errors() -> None:
    assert classify_error("read tcp: connection reset by peer") is Outcome.RESET
    assert classify_error("unable to do port forwarding: socat not found") is Outcome.INCONCLUSIVE
    assert classify_error('no forward found for port 81 in pod "a/b"') is Outcome.INCONCLUSIVE


def test_tcp_port_open_after_grace() -> None:
    assert drive([*init(1)], [t(5432, None)])[0][:2] == (Outcome.OPEN, None)


def test_dropped_stream_is_inconclusive_never_refused() -> None:
    got = drive([*init(1), (ABNF.OPCODE_BINARY, None)], [t()])
    assert got[0][0] is Outcome.INCONCLUSIVE and "closed before an answer" in got[0][2]


def test_cut_mid_answer_is_inconclusive() -> None:
    got = drive([*init(1), data(0, b"HTTP/1.1 5"), (ABNF.OPCODE_CLOSE, b"")], [t()])
    assert got[0][0] is Outcome.INCONCLUSIVE and "partial answer" in got[0][2]


def test_silent_http_server_times_out_and_deadline_is_inconclusive() -> None:
    assert drive([*init(1)], [t()])[0][0] is Outcome.TIMEOUT
    assert drive([], [t()], deadline=1.0)[0][0] is Outcome.INCONCLUSIVE  # the stream never started


def test_two_ports_one_websocket() -> None:
    msg = b"error forwarding port 80 to pod web-1, uid x: connect: connection refused"
    got = drive([*init(2), data(1, msg), data(2, b"HTTP/1.0 200 OK\r\n")], [t(80), t(8080)])
    assert [g[0] for g in got] == [Outcome.REFUSED, Outcome.HTTP]


def test_run_skips_on_403_and_reports_other_upgrade_failures() -> None:
    def forbidden(ns: str, pod: str, ports: Any, timeout: float) -> Any:
        raise UpgradeError(403, 'pods "web-1" is forbidden')

    run = portforward.run(forbidden, "shop", [t()], deadline=1e12, ready_endpoints=1, sample=5)
    assert run.state is RunState.SKIPPED
    assert run.reason == "probe skipped: create pods/portforward forbidden in namespace shop"

    def gone(ns: str, pod: str, ports: Any, timeout: float) -> Any:
        raise UpgradeError(404, 'pods "web-1" not found')

    run = portforward.run(gone, "shop", [t()], deadline=1e12, ready_endpoints=1, sample=5)
    assert run.results[0].outcome is Outcome.INCONCLUSIVE and "upgrade failed: 404" in run.results[0].detail


def test_udp_is_not_probed_without_a_connection() -> None:
    def never(*_: Any) -> Any:
        raise AssertionError("no port-forward for UDP")

    udp = Target("dns-1", "n", "deployment/dns", 53, "UDP", Role.SERVICE, "dns", None)
    run = portforward.run(never, "kube-system", [udp], deadline=1e12, ready_endpoints=1, sample=5)
    assert run.results[0].outcome is Outcome.NOT_PROBED


# ---- the plan -----------------------------------------------------------------------------------------------
def _objects(n: int, *, env_port: str | None = None, probe_port: Any = None) -> list[dict[str, Any]]:
    container: dict[str, Any] = {"name": "web", "image": "web:1", "ports": [{"name": "metrics", "containerPort": 9090}]}
    if env_port:
        container["env"] = [{"name": "PORT", "value": env_port}]
    if probe_port is not None:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": probe_port}}
    objs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-x", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [
                {
                    "addresses": [f"10.0.0.{i}"],
                    "nodeName": f"node-{i % 3}",
                    "conditions": {"ready": i != n - 1 or n < 3},
                    "targetRef": {"kind": "Pod", "name": f"web-{i}"},
                }
                for i in range(n)
            ],
        },
    ]
    for i in range(n):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"web-{i}", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"nodeName": f"node-{i % 3}", "containers": [container]},
                "status": {"phase": "Running", "podIP": f"10.0.0.{i}"},
            }
        )
    return objs


def test_plan_samples_ready_endpoints_and_adds_where_else_to_look() -> None:
    data = build_data(_objects(8, env_port="8081", probe_port=8080))
    targets, ready = plan(data, "shop", "web", sample=5)
    assert ready == 7  # the last endpoint is not ready
    pods = sorted({x.pod for x in targets})
    assert len(pods) == 5
    svc = [x for x in targets if x.role is Role.SERVICE]
    assert all(x.port == 8080 and x.http_path == "/healthz" for x in svc)  # the readiness probe's path
    extra = {(x.port, x.role) for x in targets if x.pod == pods[0] and x.role is not Role.SERVICE}
    assert extra == {(9090, Role.DECLARED), (8081, Role.OTHER)}


def test_sample_spreads_over_nodes() -> None:
    data = build_data(_objects(6))
    picked = sample_endpoints(ready_endpoints(data, "shop", "web"), 3)
    assert len({e.node for e in picked}) == 3


# ---- crash logs ---------------------------------------------------------------------------------------------
def _pod(name: str, owner: str, state: dict[str, Any]) -> Pod:
    return from_builtin(  # type: ignore[no-any-return]
        Kind.POD,
        {
            "metadata": {
                "name": name,
                "namespace": "shop",
                "ownerReferences": [{"kind": "ReplicaSet", "name": owner, "controller": True}],
            },
            "status": {"containerStatuses": [{"name": "app", "state": state}]},
        },
    )


def test_one_log_per_workload() -> None:
    crash = {"waiting": {"reason": "CrashLoopBackOff"}}
    pods = [_pod("a-1", "a-5d8f9", crash), _pod("a-2", "a-5d8f9", crash), _pod("b-1", "b-77c", {"terminated": {"exitCode": 2}})]
    assert log_targets(pods) == [("shop", "a-1", "app", True), ("shop", "b-1", "app", False)]
    assert crashed_containers(_pod("c", "c-1", {"running": {}})) == []


# ---- rendering ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["not-probed", "probed", "skipped"])
def test_report_probe_section_validates(state: str) -> None:
    from kubediag.probes import from_fixture

    doc: dict[str, Any] = {}
    if state == "probed":
        doc = {"probe": {"state": "probed", "ready_endpoints": 1, "results": [
            {"pod": "web-0", "node": "node-0", "port": 8080, "service_port": "http", "http_path": "/",
             "outcome": "refused", "detail": "dial tcp 10.1.2.3:8080: connect: connection refused"}]}}
    elif state == "skipped":
        doc = {"probe": {"state": "skipped", "reason": "probe skipped: create pods/portforward forbidden in namespace shop"}}
    data = build_data(_objects(1), data_plane=from_fixture(doc))
    rep = diagnose(Snapshot("shop", "web", data))
    out = render_json.report_dict(rep)
    jsonschema.validate(json.loads(render_json.report(rep)), load("svc-report"))
    assert out["probe"]["state"] == state
    md = render_markdown.report(rep)
    assert "**Data plane**" in md
    if state == "probed":
        masked = render_json.report_dict(Masker.from_data(data).report(rep))
        assert "10.1.2.3" not in json.dumps(masked["probe"]) and "<ip-" in json.dumps(masked["probe"])


def test_not_probed_without_data_plane() -> None:
    rep = diagnose(Snapshot("shop", "web", build_data(_objects(1))))
    assert render_json.report_dict(rep)["probe"]["state"] == "not-probed"
    assert isinstance(DataPlane().probe_for("shop", "web").reason, str)
