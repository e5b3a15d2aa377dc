"""`--probe` and crash logs: what the data-plane checks judge, and which endpoints and ports to try. Pure.

The gatherer (kubediag.gather, kubediag.portforward) does the I/O: it asks `plan()` what to try, opens one
port-forward per sampled pod through the API server and stores a `ProbeRun` in the snapshot. The KD95x
checks read only these results. Nothing here connects anywhere.

Outcomes are what the pod's side said, never a guess: `refused` / `reset` only when the port-forward's
error channel carried the kubelet's dial or read error; anything the transport did (upgrade failed, stream
dropped, deadline) is `inconclusive`.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubediag.labels import labels_of, map_selector_matches
from kubediag.objects import Container, Pod, Probe, ServicePort
from kubediag.snapshot import ClusterData, name_of, ns_of

DEFAULT_SAMPLE = 5
MAX_EXTRA_PORTS = 6  # other ports tried per pod, to say where the app does answer
LOG_TAIL_LINES = 20
LOG_LIMIT_BYTES = 4096
LOG_WORKLOADS = 3  # previous-container logs read for at most this many workloads


class Outcome(enum.StrEnum):
    OPEN = "open"  # TCP connection accepted (no error from the pod side)
    HTTP = "http"  # an HTTP status line came back
    REFUSED = "refused"
    RESET = "reset"
    TIMEOUT = "timed out"  # accepted, but no HTTP answer within the per-attempt timeout
    INCONCLUSIVE = "inconclusive"  # the probe itself failed (transport, deadline): says nothing of the pod
    NOT_PROBED = "not probed"  # UDP/SCTP

    @property
    def answers(self) -> bool:
        return self in (Outcome.OPEN, Outcome.HTTP, Outcome.TIMEOUT)

    @property
    def refuses(self) -> bool:
        return self in (Outcome.REFUSED, Outcome.RESET)


class Role(enum.StrEnum):
    SERVICE = "service"  # the Service port's resolved target port
    DECLARED = "declared"  # a containerPort the pod declares
    OTHER = "other"  # another Service's target, a probe port or a PORT env value: where else it may answer


@dataclass(frozen=True)
class Target:
    pod: str
    node: str
    workload: str
    port: int
    protocol: str = "TCP"
    role: Role = Role.SERVICE
    service_port: str = ""  # the Service port (name or number) this target serves, for Role.SERVICE
    http_path: str | None = None  # GET this path; None = TCP connect only
    why: str = ""  # for extra ports: where the port number came from

    def describe(self) -> str:
        what = f"GET {self.http_path}" if self.http_path is not None else "TCP connect"
        return f"{what} on port {self.port}"


@dataclass(frozen=True)
class Result:
    target: Target
    outcome: Outcome
    detail: str = ""  # "connection refused", "HTTP/1.1 503 Service Unavailable", the transport error
    status: int | None = None  # HTTP status code

    def as_dict(self) -> dict[str, Any]:
        t = self.target
        return {
            "pod": t.pod,
            "node": t.node,
            "port": t.port,
            "protocol": t.protocol,
            "role": t.role.value,
            "service_port": t.service_port or None,
            "tried": t.describe() if t.protocol == "TCP" else f"{t.protocol} port {t.port}",
            "outcome": self.outcome.value,
            "http_status": self.status,
            "detail": self.detail,
        }


class RunState(enum.StrEnum):
    NOT_REQUESTED = "not-probed"
    SKIPPED = "skipped"
    DONE = "probed"


@dataclass(frozen=True)
class ProbeRun:
    state: RunState
    reason: str = ""  # why skipped
    results: tuple[Result, ...] = ()
    sample: int = DEFAULT_SAMPLE
    ready_endpoints: int = 0  # the population the sample came from

    def for_service_port(self, service_port: str) -> list[Result]:
        return [
            r for r in self.results if r.target.role is Role.SERVICE and r.target.service_port == service_port
        ]

    def extras(self, pod: str) -> list[Result]:
        return [r for r in self.results if r.target.pod == pod and r.target.role is not Role.SERVICE]

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "reason": self.reason or None,
            "sample": self.sample,
            "ready_endpoints": self.ready_endpoints,
            "results": [r.as_dict() for r in self.results],
        }


NOT_PROBED = ProbeRun(RunState.NOT_REQUESTED, "run with --probe to test the data plane")
CAPPED = ProbeRun(RunState.NOT_REQUESTED, "not probed: audit --probe reached its --probe-max cap")


@dataclass(frozen=True)
class LogTail:
    """The last lines of a container's previous (or, when it exited and was not restarted, current) run."""

    namespace: str
    pod: str
    container: str
    previous: bool
    text: str = ""
    unavailable: str = ""  # "forbidden: get pods/log in namespace shop", or the error

    def command(self) -> str:
        prev = " --previous" if self.previous else ""
        return f"kubectl -n {self.namespace} logs {self.pod} -c {self.container}{prev}"


@dataclass(frozen=True)
class DataPlane:
    """What the gatherer observed beyond the API objects: probe results and crash logs."""

    probe: ProbeRun = NOT_PROBED  # `svc`: the diagnosed Service's probe
    logs: tuple[LogTail, ...] = ()
    # `audit --probe`: per (namespace, Service); a Service missing here was not probed (the global cap)
    by_service: Mapping[tuple[str, str], ProbeRun] = field(default_factory=dict)

    def probe_for(self, namespace: str, name: str) -> ProbeRun:
        if self.by_service:
            return self.by_service.get((namespace, name), CAPPED)
        return self.probe

    def log_for(self, namespace: str, pod: str, container: str) -> LogTail | None:
        return next(
            (t for t in self.logs if (t.namespace, t.pod, t.container) == (namespace, pod, container)), None
        )


# ---- crash logs: which containers -------------------------------------------------------------------------


def crashed_containers(pod: Pod) -> list[tuple[str, bool]]:
    """(container, previous) whose last run ended in a crash: waiting in CrashLoopBackOff (the crash is the
    previous container) or terminated with a non-zero exit code right now (the crash is the current one)."""
    out = []
    status = pod.status
    for cs in [*status.init_container_statuses, *status.container_statuses]:
        waiting, term = cs.state.waiting, cs.state.terminated
        if waiting is not None and waiting.reason == "CrashLoopBackOff":
            out.append((cs.name, True))
        elif term is not None and term.exit_code != 0:
            out.append((cs.name, False))
    return out


def log_targets(pods: Sequence[Pod], workloads: int = LOG_WORKLOADS) -> list[tuple[str, str, str, bool]]:
    """(namespace, pod, container, previous): one crashed pod per workload (the first by name), at most
    `workloads` workloads."""
    from kubediag.workloads import owner_of

    seen: dict[str, tuple[str, str, str, bool]] = {}
    for p in sorted(pods, key=name_of):
        crashed = crashed_containers(p)
        if not crashed:
            continue
        o = owner_of(p)
        key = str(o) if o else f"pod/{name_of(p)}"
        if key not in seen and len(seen) < workloads:
            container, previous = crashed[0]
            seen[key] = (ns_of(p), name_of(p), container, previous)
    return list(seen.values())


# ---- probe plan ----------------------------------------------------------------------------------------------

_HTTP_APP = {"http", "kubernetes.io/h2c"}
_TLS_APP = {"https", "kubernetes.io/ws", "kubernetes.io/wss", "grpc"}
_PORT_ENV = re.compile(r"^(?:[A-Z0-9_]*_)?(?:HTTP_)?PORT$")


def _looks_http(name: str) -> bool:
    n = name.lower()
    return n == "http" or n.startswith("http-") or n.endswith("-http") or n == "web"


def _containers(pod: Pod) -> list[Container]:
    spec = pod.spec
    sidecars = [c for c in spec.init_containers if c.restart_policy == "Always"]
    return [*spec.containers, *sidecars]


_PROBE_KINDS = ("readinessProbe", "livenessProbe", "startupProbe")


def _probe(c: Container, kind: str) -> Probe | None:
    """One of the container's probes by its field name (one of _PROBE_KINDS)."""
    if kind == "readinessProbe":
        return c.readiness_probe
    return c.liveness_probe if kind == "livenessProbe" else c.startup_probe


def _declared(pod: Pod) -> list[tuple[int, str, str]]:
    """(containerPort, name, protocol) of every container."""
    return [(p.container_port, p.name, p.protocol) for c in _containers(pod) for p in c.ports if p.container_port]


def _resolve(pod: Pod, port: Any) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    return next((n for n, name, _ in _declared(pod) if name == port), None)


def _readiness_http(pod: Pod, port: int) -> str | None:
    """The readiness (else liveness) probe's HTTP path when it targets `port` over plain HTTP."""
    for kind in _PROBE_KINDS:
        for c in _containers(pod):
            probe = _probe(c, kind)
            h = probe.http_get if probe is not None else None
            if h is not None and _resolve(pod, h.port) == port and (h.scheme or "HTTP").upper() == "HTTP":
                return h.path or "/"
    return None


def _tls_probe(pod: Pod, port: int) -> bool:
    for kind in _PROBE_KINDS:
        for c in _containers(pod):
            probe = _probe(c, kind)
            h = probe.http_get if probe is not None else None
            if h is not None and _resolve(pod, h.port) == port and h.scheme.upper() == "HTTPS":
                return True
    return False


def _http_path(pod: Pod, port: int, name: str, app_protocol: str) -> str | None:
    """GET which path on `port`: a readiness httpGet's path, else `/` for HTTP-named ports; None = TCP."""
    app = app_protocol.lower()
    if (
        app in _TLS_APP
        or _tls_probe(pod, port)
        or name.lower() in ("https", "grpc")
        or name.lower().startswith(("https-", "grpc-"))
    ):
        return None
    path = _readiness_http(pod, port)
    if path is not None:
        return path
    if app in _HTTP_APP or _looks_http(name):
        return "/"
    return None


def _other_ports(pod: Pod, data: ClusterData, namespace: str, service: str) -> list[tuple[int, str, str]]:
    """(port, why, name) where else the app may answer: declared ports, probe ports, other Services'
    target ports on this pod, numeric PORT-like env values."""
    out: list[tuple[int, str, str]] = []
    for n, name, proto in _declared(pod):
        if proto == "TCP":
            out.append((n, f"declared containerPort{' ' + name if name else ''}", name))
    for c in _containers(pod):
        for kind in _PROBE_KINDS:
            probe = _probe(c, kind)
            action = (probe.http_get or probe.tcp_socket) if probe is not None else None
            pn = _resolve(pod, action.port if action is not None else None)
            if pn:
                out.append((pn, f"{kind} port", ""))
        for env in c.env:
            value = env.value
            if _PORT_ENV.match(env.name) and value.isdigit() and 0 < int(value) < 65536:
                out.append((int(value), f"env {env.name}={value}", ""))
    for svc in data.services_by_ns.get(namespace, ()):
        if name_of(svc) == service:
            continue
        sel = svc.spec.selector
        if not sel or not map_selector_matches(sel, labels_of(pod)):
            continue
        for sp in svc.spec.ports:
            if sp.protocol != "TCP":
                continue
            tn = _resolve(pod, sp.target)
            if tn:
                out.append((tn, f"target of Service {name_of(svc)} port {sp.name or sp.port}", ""))
    return out


def service_port_key(port: ServicePort) -> str:
    return str(port.name or port.port)


@dataclass(frozen=True)
class Endpoint:
    pod: Pod
    node: str
    workload: str
    ports: Mapping[str, tuple[int, str]]  # Service port key -> (resolved port, protocol), from the slices


def ready_endpoints(data: ClusterData, namespace: str, service: str) -> list[Endpoint]:
    """Ready, non-terminating endpoints backed by pods, with their ports resolved by the control plane."""
    from kubediag.workloads import owner_of

    pods = {name_of(p): p for p in data.pods_by_ns.get(namespace, ())}
    found: dict[str, Endpoint] = {}
    for s in data.slices_by_service.get((namespace, service), ()):
        ports = {p.name: (p.port, p.protocol or "TCP") for p in s.ports if p.port is not None}
        for e in s.endpoints:
            cond, ref = e.conditions, e.target_ref
            if cond.ready is False or cond.terminating or ref is None or ref.kind != "Pod":
                continue
            pod = pods.get(ref.name)
            if pod is None or ref.name in found:
                continue
            o = owner_of(pod)
            found[name_of(pod)] = Endpoint(
                pod,
                str(e.node_name or pod.spec.node_name),
                str(o) if o else f"pod/{name_of(pod)}",
                ports,
            )
    return [found[k] for k in sorted(found)]


def sample_endpoints(endpoints: Sequence[Endpoint], sample: int) -> list[Endpoint]:
    """Up to `sample` endpoints spread across workloads, then nodes: round-robin over (workload, node)."""
    groups: dict[tuple[str, str], list[Endpoint]] = defaultdict(list)
    for e in endpoints:
        groups[(e.workload, e.node)].append(e)
    order = sorted(groups)
    picked: list[Endpoint] = []
    while len(picked) < sample and any(groups.values()):
        for key in order:
            if groups[key] and len(picked) < sample:
                picked.append(groups[key].pop(0))
    return picked


def plan(
    data: ClusterData, namespace: str, service: str, sample: int = DEFAULT_SAMPLE
) -> tuple[list[Target], int]:
    """(targets, number of ready endpoints): for each sampled endpoint, every Service port's resolved target
    port, then the other ports where the app may answer (declared, probe ports, other Services' targets)."""
    svc = data.services_by_key.get((namespace, service))
    if svc is None:
        return [], 0
    spec = svc.spec
    endpoints = ready_endpoints(data, namespace, service)
    targets: list[Target] = []
    for ep in sample_endpoints(endpoints, sample):
        pod, pname = ep.pod, name_of(ep.pod)
        taken: set[int] = set()
        for sp in spec.ports:
            key = service_port_key(sp)
            resolved = ep.ports.get(sp.name)
            if resolved is None:
                continue
            number, proto = resolved
            name = sp.name
            tp = sp.target_port
            if isinstance(tp, str) and not tp.isdigit():
                name = name or tp
            path = (
                _http_path(
                    pod,
                    number,
                    tp if isinstance(tp, str) and not tp.isdigit() else name,
                    sp.app_protocol,
                )
                if proto == "TCP"
                else None
            )
            if path is None and proto == "TCP" and _looks_http(name):
                path = "/"
            targets.append(Target(pname, ep.node, ep.workload, number, proto, Role.SERVICE, key, path))
            taken.add(number)
        extra = 0
        for number, why, name in _other_ports(pod, data, namespace, service):
            if number in taken or extra >= MAX_EXTRA_PORTS:
                continue
            taken.add(number)
            extra += 1
            role = Role.DECLARED if why.startswith("declared") else Role.OTHER
            targets.append(
                Target(
                    pname,
                    ep.node,
                    ep.workload,
                    number,
                    "TCP",
                    role,
                    "",
                    _http_path(pod, number, name, ""),
                    why,
                )
            )
    return targets, len(endpoints)


# ---- fixtures -----------------------------------------------------------------------------------------------


def from_fixture(doc: Mapping[str, Any] | None) -> DataPlane:
    """A DataPlane from a unit fixture's `data_plane:` mapping ({probe: {state, reason, results}, logs})."""
    if not doc:
        return DataPlane()
    probe = doc.get("probe") or {}
    results = []
    for r in probe.get("results") or []:
        t = Target(
            str(r["pod"]),
            str(r.get("node") or ""),
            str(r.get("workload") or ""),
            int(r["port"]),
            str(r.get("protocol") or "TCP"),
            Role(r.get("role", "service")),
            str(r.get("service_port") or ""),
            r.get("http_path"),
            str(r.get("why") or ""),
        )
        results.append(Result(t, Outcome(r["outcome"]), str(r.get("detail") or ""), r.get("status")))
    run = (
        ProbeRun(
            RunState(probe.get("state", "probed")),
            str(probe.get("reason") or ""),
            tuple(results),
            int(probe.get("sample", DEFAULT_SAMPLE)),
            int(probe.get("ready_endpoints", 0)),
        )
        if probe
        else NOT_PROBED
    )
    logs = tuple(
        LogTail(
            str(lg["namespace"]),
            str(lg["pod"]),
            str(lg["container"]),
            bool(lg.get("previous", True)),
            str(lg.get("text") or ""),
            str(lg.get("unavailable") or ""),
        )
        for lg in doc.get("logs") or []
    )
    return DataPlane(run, logs)


def summarize(results: Iterable[Result]) -> str:
    """`pod-a refused, pod-b HTTP 200`: one phrase per result."""
    return ", ".join(f"{r.target.pod} {phrase(r)}" for r in results)


def phrase(r: Result) -> str:
    if r.outcome is Outcome.HTTP:
        return f"HTTP {r.status}"
    if r.outcome is Outcome.INCONCLUSIVE:
        return f"inconclusive ({r.detail})" if r.detail else "inconclusive"
    return r.outcome.value
