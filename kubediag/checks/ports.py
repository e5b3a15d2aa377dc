"""Ports: does every Service port reach a port the selected pods declare, by name, number and protocol?

Every selected pod is resolved on its own: the same port name may map to different numbers in different pod
templates (e.g. during a rollout), which is legal and healthy. Terminal pods are skipped (never endpoints).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubediag.checks.base import NotApplicable, check
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import ContainerPort, Pod
from kubediag.snapshot import Snapshot, name_of
from kubediag.workloads import container_ports, pods_phrase, selection, template_owner


@dataclass(frozen=True)
class Target:
    """What one Service port sends traffic to on the pods."""

    index: int  # position in spec.ports (for JSON patches)
    port: int
    name: str
    value: int | str  # the effective target: targetPort (default: port); for headless Services: port
    protocol: str
    headless: bool

    @property
    def label(self) -> str:
        return f"port {self.port}/{self.protocol}" + (f" ({self.name})" if self.name else "")

    @property
    def named(self) -> bool:
        return isinstance(self.value, str)


def targets(snap: Snapshot) -> list[Target]:
    out = []
    for i, p in enumerate(snap.ports):
        port, raw = p.port, p.target
        value: int | str = port
        if not snap.headless and raw not in ("", 0):
            value = int(raw) if isinstance(raw, int) or raw.isdigit() else raw
        out.append(Target(i, port, p.name, value, p.protocol, snap.headless))
    return out


def live_pods(snap: Snapshot) -> list[Pod]:
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service has no pods")
    if not snap.selector:
        raise NotApplicable("the Service has no selector")
    if not snap.selected_pods:
        raise NotApplicable("no pod is selected")
    pods = list(selection(snap).live)  # not terminal, by name
    if not pods:
        raise NotApplicable("every selected pod is terminal (Succeeded/Failed)")
    if not snap.ports:
        raise NotApplicable("the Service has no ports")
    return pods


class Resolution(enum.Enum):
    OK = "ok"
    NAME_MISSING = "name-missing"  # KD501
    NUMBER_UNDECLARED = "number-undeclared"  # KD502
    OTHER_PROTOCOL = "other-protocol"  # KD503
    UNKNOWN = "unknown"  # numeric target, the pod declares no ports at all: legal, cannot judge


def resolve(pod: Pod, t: Target) -> Resolution:
    """FindPort semantics: a named targetPort needs a container port with that name AND protocol."""
    named, value, protocol = t.named, t.value, t.protocol
    declared = same = False
    spec = pod.spec
    for init, containers in ((False, spec.containers), (True, spec.init_containers)):
        for c in containers:
            if init and c.restart_policy != "Always":
                continue  # only native sidecars among the init containers serve (`serving_containers`)
            for p in c.ports:
                declared = True
                if (p.name if named else p.container_port) == value:
                    if p.protocol == protocol:
                        return Resolution.OK
                    same = True
    if same:
        return Resolution.OTHER_PROTOCOL
    if named:
        return Resolution.NAME_MISSING
    return Resolution.NUMBER_UNDECLARED if declared else Resolution.UNKNOWN


def declared_text(pod: Pod) -> str:
    """`http=8080/TCP, metrics=9090/TCP (container web)` for messages and evidence."""
    declared = container_ports(pod)
    if not declared:
        return "no ports"
    containers = sorted({c for c, _ in declared})
    ports = ", ".join(
        f"{p.name + '=' if p.name else ''}{p.container_port}/{p.protocol}"
        for _, p in declared
    )
    return f"{ports} (container{'s' if len(containers) > 1 else ''} {', '.join(containers)})"


def workload(pod: Pod) -> str:
    o = template_owner(pod)
    return f"{o.kind.lower()}/{o.name}" if o else f"pod/{name_of(pod)}"


def patch_service(snap: Snapshot, path: str, value: int | str) -> str:
    body = json.dumps([{"op": "replace", "path": path, "value": value}], separators=(",", ":"))
    return f"kubectl -n {snap.namespace} patch service {snap.name} --type=json -p '{body}'"


@dataclass(frozen=True)
class PortScan:
    target: Target
    affected: tuple[Pod, ...]
    population: tuple[Pod, ...]  # the live selected pods

    @property
    def all(self) -> bool:
        return len(self.affected) == len(self.population)

    @property
    def who(self) -> str:
        return pods_phrase(self.affected, self.population)

    def verb(self, plural: str, singular: str) -> str:
        return singular if len(self.affected) == 1 else plural

    @property
    def severity(self) -> Severity:
        return Severity.CRITICAL if self.all else Severity.WARNING


def _resolutions(snap: Snapshot) -> list[tuple[Target, tuple[Pod, ...], tuple[Resolution, ...]]]:
    """Every target resolved on every live pod, once per Service (three checks ask)."""
    key = "port-resolutions"
    memo = snap.memo
    if key not in memo:
        pods = tuple(live_pods(snap))
        memo[key] = [(t, pods, tuple(resolve(p, t) for p in pods)) for t in targets(snap)]
    return memo[key]  # type: ignore[no-any-return]


def scan_ports(snap: Snapshot, outcome: Resolution, named: bool | None = None) -> Iterator[PortScan]:
    for t, pods, resolved in _resolutions(snap):
        if named is not None and t.named is not named:
            continue
        affected = tuple(p for p, r in zip(pods, resolved, strict=True) if r is outcome)
        if affected:
            yield PortScan(t, affected, pods)


def port_evidence(snap: Snapshot, pods: Sequence[Pod], field: str, expected: str) -> list[Evidence]:
    return [Evidence("Pod", snap.namespace, name_of(p), field, declared_text(p), expected) for p in pods[:5]]


def service_evidence(snap: Snapshot, t: Target, observed: str, expected: str) -> Evidence:
    field = f"spec.ports[{t.index}].{'port' if t.headless else 'targetPort'}"
    return Evidence("Service", snap.namespace, snap.name, field, observed, expected)


def _common_candidates(pods: Sequence[Pod], protocol: str) -> list[ContainerPort]:
    """Ports (same protocol) that every one of `pods` declares with the same number: safe patch targets."""
    per_pod = [
        {p.container_port: p for _, p in container_ports(pod) if p.protocol == protocol}
        for pod in pods
    ]
    if not per_pod:
        return []
    common = set(per_pod[0]).intersection(*per_pod[1:])
    return [per_pod[0][n] for n in sorted(common)]


# ---- KD501 -----------------------------------------------------------------------------------------------


@check(
    id="KD501",
    category=Category.NAMED_PORT_NOT_FOUND,
    stage=Stage.PORTS,
    title="A named targetPort exists on every selected pod",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
For each Service port whose `targetPort` is a name, checks every selected pod: one of its serving
containers (regular containers and native sidecars, i.e. init containers with `restartPolicy: Always`) must
declare a port with that name AND the Service port's protocol (default TCP). The same name may resolve to
different numbers on different pods; that is fine. A name declared only with another protocol is reported
by KD503.""",
    why="""
The endpointslice controller resolves a named port per pod; a pod that does not declare it is put in a
slice without that port, so the Service port has no endpoint on that pod. When no pod declares it, the
port has no endpoints at all and connections are refused, even though the pods are Ready.""",
    example="""
kind: Service
spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}
---
kind: Pod
spec:
  containers:
  - name: web
    ports: [{name: web, containerPort: 8080}]   # named 'web', not 'http'""",
    fix="""
Use the same name on both sides: rename the container port in the pod template (`name: http`), or point
the Service at the name or number the pods declare
(`kubectl -n shop patch service web --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":"web"}]'`).""",
)
def named_port_not_found(snap: Snapshot) -> Iterator[Finding]:
    for ps in scan_ports(snap, Resolution.NAME_MISSING, named=True):
        t, ns = ps.target, snap.namespace
        who, declare = ps.who, ps.verb("declare", "declares")
        sample = ps.affected[0]
        message = (
            f"Service {ns}/{snap.name} {t.label} targets the named port {t.value!r}, but {who} {declare} no "
            f"{t.protocol} port named {t.value!r} ({ps.verb('they declare', 'it declares')} {declared_text(sample)})"
        )
        message += (
            ": the Service port has no endpoints and connections are refused"
            if ps.all
            else ": those pods get no endpoint for this port and receive none of its traffic"
        )
        candidates = _common_candidates(ps.affected, t.protocol)
        add = (
            f"add {{name: {t.value}, containerPort: <port>, protocol: {t.protocol}}} to the container ports of "
            f"{workload(sample)}"
        )
        if ps.all and len(candidates) == 1:
            c = candidates[0]
            number = c.container_port
            names = {
                p.name
                for pod in ps.affected
                for _, p in container_ports(pod)
                if p.container_port == number and p.protocol == t.protocol
            }
            # the port's name when every pod uses the same one, else its number
            value: int | str = names.pop() if len(names) == 1 and "" not in names else number
            fix = f"{patch_service(snap, f'/spec/ports/{t.index}/targetPort', value)}   # or {add}"
        else:
            fix = add[0].upper() + add[1:]
        evidence = [
            service_evidence(snap, t, str(t.value), f"a {t.protocol} container port named {t.value!r}"),
            *port_evidence(
                snap, ps.affected, "spec.containers[].ports[].name", f"a {t.protocol} port named {t.value!r}"
            ),
        ]
        yield named_port_not_found.finding(ps.severity, message, fix, evidence)


# ---- KD502 -----------------------------------------------------------------------------------------------


@check(
    id="KD502",
    category=Category.TARGET_PORT_NOT_EXPOSED,
    stage=Stage.PORTS,
    title="A numeric targetPort is a port the pods declare",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
For each Service port with a numeric `targetPort` (default: the `port` itself), checks that the selected
pods' serving containers declare that port. For a headless Service (`clusterIP: None`) the `targetPort` is
ignored: clients resolve the pod IPs and dial `podIP:port`, so the `port` itself is checked. Pods whose
containers declare no ports at all pass (undeclared ports are legal); pods that declare other ports but not
this one are suspect.""",
    why="""
A numeric targetPort is never validated: the endpoints look healthy and kube-proxy forwards to `podIP:80`
while the application listens on 8080, so every connection is refused (or times out). The classic slip is
`port: 80` without `targetPort` in front of an app on 8080.""",
    example="""
kind: Service
spec: {selector: {app: web}, ports: [{port: 80}]}   # targetPort defaults to 80
---
kind: Pod
spec:
  containers: [{name: web, ports: [{containerPort: 8080}]}]""",
    fix="""
Point the Service at the port the application listens on:
`kubectl -n shop patch service web --type=json -p '[{"op":"replace","path":"/spec/ports/0/targetPort","value":8080}]'`
(for a headless Service, set `port` itself). If the application really listens on the targetPort, declare
it in the container's `ports`.""",
)
def target_port_not_exposed(snap: Snapshot) -> Iterator[Finding]:
    for ps in scan_ports(snap, Resolution.NUMBER_UNDECLARED, named=False):
        t, ns = ps.target, snap.namespace
        who, declare = ps.who, ps.verb("declare", "declares")
        sample = ps.affected[0]
        if t.headless:
            message = (
                f"Headless Service {ns}/{snap.name} {t.label}: clients dial podIP:{t.port} (targetPort is "
                f"ignored for headless Services), but {who} {declare} only {declared_text(sample)}"
            )
            field = f"/spec/ports/{t.index}/port"
        else:
            message = (
                f"Service {ns}/{snap.name} {t.label} forwards to port {t.value} on the pods, but {who} {declare} "
                f"only {declared_text(sample)}"
            )
            field = f"/spec/ports/{t.index}/targetPort"
        message += (
            (
                ": connections are most likely refused (nothing validates this port)"
                if t.headless
                else ": connections are most likely refused (a numeric targetPort is never validated)"
            )
            if ps.all
            else ": connections that land on those pods are most likely refused"
        )
        candidates = _common_candidates(ps.affected, t.protocol)
        confirm = f"confirm what the application listens on (kubectl -n {ns} logs {name_of(sample)})"
        if ps.all and len(candidates) == 1:
            fix = (
                f"{patch_service(snap, field, candidates[0].container_port)}   # or {confirm}"
            )
        elif ps.all:
            nums = ", ".join(str(c.container_port) for c in candidates) or "none in common"
            fix = f"Set {field.lstrip('/').replace('/', '.')} to the port the pods listen on ({nums}); {confirm}"
        else:
            fix = (
                f"Make {workload(sample)} listen on and declare port {t.value}, or align all selected "
                f"workloads on one port; {confirm}"
            )
        evidence = [
            service_evidence(snap, t, str(t.value), "a port the selected containers declare"),
            *port_evidence(
                snap, ps.affected, "spec.containers[].ports[].containerPort", f"{t.value}/{t.protocol}"
            ),
        ]
        yield target_port_not_exposed.finding(ps.severity, message, fix, evidence)


# ---- KD503 -----------------------------------------------------------------------------------------------


@check(
    id="KD503",
    category=Category.PROTOCOL_MISMATCH,
    stage=Stage.PORTS,
    title="The Service port's protocol matches the container port",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
For each Service port, checks whether the selected pods declare its target (number or name) only with
another protocol: e.g. the Service port is UDP 53 (the protocol defaults to TCP) and the container declares
53/TCP only.""",
    why="""
Protocols never convert: UDP datagrams to a TCP-only listener (or the reverse) are dropped and clients time
out. For a named targetPort the name does not even resolve (names match on name AND protocol), so the port
has no endpoints.""",
    example="""
kind: Service
spec: {selector: {app: dns}, ports: [{name: dns, port: 53, protocol: UDP}]}
---
kind: Pod
spec:
  containers: [{name: dns, ports: [{name: dns, containerPort: 53}]}]   # protocol defaults to TCP""",
    fix="""
Declare one container port per protocol (`{name: dns-udp, containerPort: 53, protocol: UDP}` next to the TCP
one), or set the Service port's `protocol` to what the application speaks; a Service may list the same port
twice, once per protocol.""",
)
def protocol_mismatch(snap: Snapshot) -> Iterator[Finding]:
    for ps in scan_ports(snap, Resolution.OTHER_PROTOCOL):
        t, ns = ps.target, snap.namespace
        who, declare = ps.who, ps.verb("declare", "declares")
        sample = ps.affected[0]
        what = f"port {t.value!r}" if t.named else f"port {t.value}"
        message = (
            f"Service {ns}/{snap.name} {t.label} targets {what}, but {who} {declare} it only with another "
            f"protocol ({declared_text(sample)}): {t.protocol} clients time out"
        )
        if t.named:
            message += f"; the name does not resolve for {t.protocol}, so the port gets no endpoints there"
        other = next(
            p.protocol
            for _, p in container_ports(sample)
            if (p.name == t.value if t.named else p.container_port == t.value)
        )
        number = next(
            p.container_port
            for _, p in container_ports(sample)
            if (p.name == t.value if t.named else p.container_port == t.value)
        )
        otherwise = patch_service(snap, f"/spec/ports/{t.index}/protocol", other)
        if t.named:
            fix = (
                f"If the application serves {t.protocol}: in {workload(sample)} rename the {other} entry "
                f"{t.value!r} (names are unique per pod) and add {{name: {t.value}, containerPort: {number}, "
                f"protocol: {t.protocol}}}; otherwise {otherwise}"
            )
        else:
            fix = (
                f"If the application serves {t.protocol}: add {{name: {t.name or 'port'}-{t.protocol.lower()}, "
                f"containerPort: {number}, protocol: {t.protocol}}} to the container ports of "
                f"{workload(sample)}; otherwise {otherwise}"
            )
        evidence = [
            Evidence(
                "Service", ns, snap.name, f"spec.ports[{t.index}].protocol", t.protocol, f"{other} (the pods)"
            ),
            *port_evidence(
                snap, ps.affected, "spec.containers[].ports[].protocol", f"{t.value}/{t.protocol}"
            ),
        ]
        yield protocol_mismatch.finding(ps.severity, message, fix, evidence)
