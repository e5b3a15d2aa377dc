"""The data plane (`--probe`): do the pods answer on the ports the Service sends traffic to?

Pure verdicts over the probe results the gatherer put in the snapshot (kubediag.probes): each sampled ready
endpoint was reached through a port-forward via the API server, on every Service port's resolved target
port, plus the other ports the pod declares or other Services target (to say where the app does answer).
Without `--probe` these checks are skipped ("not probed"): nothing here is ever guessed from the API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kubediag.checks.base import NotApplicable, check
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import ServicePort
from kubediag.probes import Outcome, ProbeRun, Result, RunState, phrase, service_port_key, summarize
from kubediag.snapshot import Snapshot

MAX_EVIDENCE = 5
_NEEDS = [Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE]


NOT_PROBED = "not probed (run with --probe to test the data plane)"


def _probed(snap: Snapshot) -> str | None:
    """The probe checks' precondition (`applies`): the data plane was gathered."""
    return NOT_PROBED if snap.data.data_plane is None else None


def _run(snap: Snapshot) -> ProbeRun:
    plane = snap.data.data_plane
    run = plane.probe_for(snap.namespace, snap.name) if plane is not None else None
    if run is None or run.state is RunState.NOT_REQUESTED:
        raise NotApplicable(run.reason if run is not None and run.reason.startswith("not probed") else NOT_PROBED)
    if run.state is RunState.SKIPPED:
        raise NotApplicable(run.reason)
    if not run.results:
        raise NotApplicable(run.reason or "no ready endpoint to probe")
    return run


def _ports(snap: Snapshot) -> list[tuple[int, ServicePort, str]]:
    return [(i, p, service_port_key(p)) for i, p in enumerate(snap.ports)]


def _label(port: ServicePort, number: int | None = None) -> str:
    name = f"{port.name} " if port.name else ""
    target = number if number is not None else port.target
    return f"port {name}{port.port}→{target}"


def _evidence(snap: Snapshot, results: Sequence[Result], expected: str) -> list[Evidence]:
    return [
        Evidence(
            "Pod",
            snap.namespace,
            r.target.pod,
            f"port {r.target.port} ({r.target.describe()} via port-forward)",
            f"{phrase(r)}{': ' + r.detail if r.detail and r.outcome is not Outcome.HTTP else ''}",
            expected,
        )
        for r in results[:MAX_EVIDENCE]
    ]


def _population(run: ProbeRun, probed: int) -> str:
    return f"{probed} of {run.ready_endpoints} ready endpoint(s) sampled"


@check(
    id="KD950",
    applies=_probed,
    category=Category.TARGET_PORT_NOT_LISTENING,
    stage=Stage.DATA_PLANE,
    title="The pods answer on the Service's target port (--probe)",
    needs=_NEEDS,
    what="""
With `--probe`: for each Service port, connects through a port-forward via the API server (`pods/portforward`)
to the resolved target port of a sample of ready endpoints (default 5, across workloads and nodes) and, for
HTTP ports, sends one `GET` of the readiness path (or `/`). Fails when every sampled endpoint refuses or
resets the connection. Also tries the ports the containers declare, their probe ports, numeric `PORT`-like
environment values and other Services' target ports on the same pods, to say where the app does answer.
Without `--probe` it is skipped as "not probed".""",
    why="""
`containerPort` is informational: a Service can target port 80 while the application listens on 8080, and
every API object still looks right (the pods are ready, the EndpointSlices list them). kube-proxy then
forwards every connection to a closed port and clients see `connection refused`.""",
    example="""
kind: Service
spec:
  ports: [{port: 80, targetPort: 80}]    # the app listens on 8080 (env PORT=8080) and declares no port""",
    fix="""
Set the Service's `targetPort` to the port the application listens on (the report names it when another
probed port answers), or make the application listen on the target port on all interfaces.""",
)
def target_port_not_listening(snap: Snapshot) -> Iterator[Finding]:
    run = _run(snap)
    ns, name = snap.namespace, snap.name
    for index, port, key in _ports(snap):
        results = [r for r in run.for_service_port(key) if r.outcome is not Outcome.NOT_PROBED]
        conclusive = [r for r in results if r.outcome is not Outcome.INCONCLUSIVE]
        refusing = [r for r in conclusive if r.outcome.refuses]
        if not conclusive or len(refusing) != len(conclusive):
            continue
        numbers = sorted({r.target.port for r in refusing})
        number = numbers[0] if len(numbers) == 1 else None
        pods = sorted({r.target.pod for r in refusing})
        inconclusive = len(results) - len(conclusive)
        msg = (
            f"Service {ns}/{name} {_label(port, number)}: nothing listens on port "
            f"{', '.join(map(str, numbers))} in {'pod ' + pods[0] if len(pods) == 1 else f'any of the {len(pods)} probed pods'}"
            f" ({summarize(refusing)}; {_population(run, len(results))}"
            + (f", {inconclusive} inconclusive" if inconclusive else "")
            + ")"
        )
        hint, fix = _where_it_answers(snap, run, pods, index, port, number)
        yield target_port_not_listening.finding(
            Severity.CRITICAL,
            msg + hint,
            fix,
            _evidence(snap, refusing, "a process listening on the port"),
        )


def _where_it_answers(
    snap: Snapshot,
    run: ProbeRun,
    pods: Sequence[str],
    index: int,
    port: ServicePort,
    number: int | None,
) -> tuple[str, str]:
    """(message tail, fix): the ports every refusing pod answered on, and the targetPort to set."""
    ns, name = snap.namespace, snap.name
    answered: dict[int, list[Result]] = {}
    for pod in pods:
        for r in run.extras(pod):
            if r.outcome in (Outcome.OPEN, Outcome.HTTP):
                answered.setdefault(r.target.port, []).append(r)
    common = sorted(p for p, rs in answered.items() if {r.target.pod for r in rs} >= set(pods))
    tried = sorted({r.target.port for pod in pods for r in run.extras(pod)})
    where = "pod " + pods[0] if len(pods) == 1 else "these pods"
    listen = f"port {number}" if number is not None else "the target port"
    generic = (
        f"Make the application listen on {listen} on all interfaces, or set the Service's targetPort to the "
        f"port it listens on (its startup log usually says: kubectl -n {ns} logs {pods[0]})"
    )
    if not common:
        extra = (
            f"; no other probed port answered either (tried {', '.join(map(str, tried))})" if tried else ""
        )
        return extra, generic
    reasons = {p: answered[p][0] for p in common}
    described = ", ".join(
        f"{p} ({reasons[p].target.why}{', ' + phrase(reasons[p]) if reasons[p].outcome is Outcome.HTTP else ''})"
        for p in common
    )
    own_targets = {
        r.target.port
        for r in run.results
        if r.target.role.value == "service" and r.target.service_port != service_port_key(port)
    }
    tp = port.target_port
    if len(common) == 1 and common[0] not in own_targets:
        answer = common[0]
        tail = f"; {where} answer{'s' if len(pods) == 1 else ''} on {described}: set targetPort {answer}"
        if isinstance(tp, str) and not tp.isdigit():
            fix = (
                f"targetPort {tp!r} names a containerPort the application does not listen on: declare "
                f"`- name: {tp}` with containerPort {answer} in the pod template, or point the Service at "
                f"{answer}:\n"
                f"kubectl -n {ns} patch service {name} --type=json "
                f'-p \'[{{"op":"replace","path":"/spec/ports/{index}/targetPort","value":{answer}}}]\''
            )
        else:
            fix = (
                f"kubectl -n {ns} patch service {name} --type=json "
                f'-p \'[{{"op":"replace","path":"/spec/ports/{index}/targetPort","value":{answer}}}]\''
            )
        return tail, fix
    tail = f"; {where} answer{'s' if len(pods) == 1 else ''} on {described}"
    if len(common) == 1:
        tail += " (already the target of another port of this Service)"
    return tail, generic + f"; the probe found answers on {', '.join(map(str, common))}"


@check(
    id="KD951",
    applies=_probed,
    category=Category.BACKEND_PARTIALLY_REFUSING,
    stage=Stage.DATA_PLANE,
    title="Every sampled endpoint accepts connections (--probe)",
    needs=_NEEDS,
    what="""
With `--probe`: fails (warning) when some sampled ready endpoints refuse or reset connections on the Service's
target port while others answer. Without `--probe` it is skipped as "not probed".""",
    why="""
kube-proxy spreads connections over every ready endpoint: a backend that is ready but refuses (a pod from an
older ReplicaSet, a different image or config, a process that died while the readiness probe still passes
on another port) fails that share of the requests, which looks like intermittent errors to clients.""",
    example="""
# three ready pods; pod web-2 runs an old image that listens on 8080 instead of 80
kubectl -n shop get pods -l app=web -o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image""",
    fix="""
Compare the refusing pods with the answering ones (image, args, env, owner) and their logs; fix or replace
the refusing pods (for example finish or roll back the rollout that created them).""",
)
def backend_partially_refusing(snap: Snapshot) -> Iterator[Finding]:
    run = _run(snap)
    ns, name = snap.namespace, snap.name
    for _, port, key in _ports(snap):
        results = [r for r in run.for_service_port(key) if r.outcome is not Outcome.NOT_PROBED]
        refusing = [r for r in results if r.outcome.refuses]
        answering = [r for r in results if r.outcome in (Outcome.OPEN, Outcome.HTTP, Outcome.TIMEOUT)]
        if not refusing or not answering:
            continue
        bad = sorted({r.target.pod for r in refusing})
        good = sorted({r.target.pod for r in answering})
        yield backend_partially_refusing.finding(
            Severity.WARNING,
            f"Service {ns}/{name} {_label(port, refusing[0].target.port)}: {len(bad)} of {len(results)} sampled "
            f"endpoints refuse connections ({summarize(refusing)}) while {summarize(answering)}; about that "
            f"share of connections fails ({_population(run, len(results))})",
            f"kubectl -n {ns} logs {bad[0]}\n"
            f"kubectl -n {ns} get pod {' '.join([*bad[:3], good[0]])} "
            "-o custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,OWNER:.metadata.ownerReferences[0].name"
            "   # compare the refusing pods with an answering one",
            _evidence(snap, refusing, "a process listening on the port, like the other endpoints"),
        )


@check(
    id="KD952",
    applies=_probed,
    category=Category.BACKEND_HTTP_ERRORS,
    stage=Stage.DATA_PLANE,
    title="The sampled endpoints do not all answer HTTP 5xx (--probe)",
    needs=_NEEDS,
    what="""
With `--probe`, for HTTP ports (appProtocol `http`, a port named `http`/`http-*`, or a readiness `httpGet` on
the port): fails (warning) when every sampled endpoint that answered sent an HTTP 5xx status to the one `GET`
of the readiness path (or `/`). Without `--probe` it is skipped as "not probed".""",
    why="""
The Service's wiring works (connections reach a listening process) but the application fails every request:
clients see 5xx whatever endpoint they reach. A warning, not a root cause: kubediag sent one request to one
path and cannot tell an application error from a path that legitimately answers 503.""",
    example="""
# every pod answers GET / with 503: its database is unreachable
kubectl -n shop logs deploy/web | tail""",
    fix="""
Read the application's logs (`kubectl -n <ns> logs <pod>`) for the failing dependency (database, upstream,
configuration); the Kubernetes objects are not the cause.""",
)
def backend_http_errors(snap: Snapshot) -> Iterator[Finding]:
    run = _run(snap)
    ns, name = snap.namespace, snap.name
    for _, port, key in _ports(snap):
        results = [r for r in run.for_service_port(key) if r.outcome in (Outcome.HTTP, Outcome.OPEN)]
        http = [r for r in results if r.outcome is Outcome.HTTP]
        if not http or len(http) != len(results) or any((r.status or 0) < 500 for r in http):
            continue
        path = http[0].target.http_path or "/"
        statuses = sorted({r.status for r in http if r.status is not None})
        yield backend_http_errors.finding(
            Severity.WARNING,
            f"Service {ns}/{name} {_label(port, http[0].target.port)}: every sampled endpoint answered GET {path} with "
            f"HTTP {'/'.join(map(str, statuses))} ({summarize(http)}; {_population(run, len(http))})",
            f"kubectl -n {ns} logs {http[0].target.pod}   # the application fails the request: find the failing "
            "dependency or configuration in its log",
            _evidence(snap, http, "a 2xx-4xx answer"),
        )
