"""Pure facts about pods: their top-level owner, their ports, and why a pod is not serving."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.initwait import init_hold
from kubediag.labels import expression_matches
from kubediag.model import Category
from kubediag.objects import (
    Container,
    ContainerPort,
    ContainerStatus,
    Event,
    LabelSelectorRequirement,
    Node,
    NodeSelectorTerm,
    Pod,
    PodCondition,
    PodSpec,
    Probe,
    Taint,
    Toleration,
)
from kubediag.snapshot import Snapshot, name_of


@dataclass(frozen=True, order=True)
class Owner:
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def owner_of(pod: Pod) -> Owner | None:
    """The top-level owner: a ReplicaSet's Deployment is read from the pod-template-hash naming rule."""
    refs = pod.metadata.owner_references
    if not refs:
        return None  # a bare pod
    ref = next((r for r in refs if r.controller), refs[0])
    if not ref:
        return None
    kind, name = ref.kind, ref.name
    if kind == "ReplicaSet":
        h = pod.metadata.labels.get("pod-template-hash")
        if h and name.endswith("-" + h):
            return Owner("Deployment", name[: -len(h) - 1])
    return Owner(kind, name)


def owner_label(pod: Pod) -> str:
    o = owner_of(pod)
    return str(o) if o else f"pod/{pod.metadata.name}"


def serving_containers(spec: Pod | PodSpec) -> Iterator[Container]:
    """Containers that can serve traffic: regular ones and native sidecars (init, restartPolicy Always)."""
    if isinstance(spec, Pod):
        spec = spec.spec
    yield from spec.containers
    for c in spec.init_containers:
        if c.restart_policy == "Always":
            yield c


def container_ports(pod: Pod | PodSpec) -> list[tuple[str, ContainerPort]]:
    """(container name, port entry) for every declared port of every serving container."""
    return [(c.name, p) for c in serving_containers(pod) for p in c.ports]


def port_protocol(port: Mapping[str, Any]) -> str:
    return str(port.get("protocol") or "TCP")


def condition(pod: Pod, ctype: str) -> PodCondition | None:
    for c in pod.status.conditions:
        if c.type == ctype:
            return c
    return None


def is_ready(pod: Pod) -> bool:
    for c in pod.status.conditions:  # the first Ready condition decides
        if c.type == "Ready":
            return c.status == "True" and not pod.metadata.deletion_timestamp
    return False


def pod_ip(pod: Pod) -> str:
    return pod.status.pod_ip


def is_terminal(pod: Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


@dataclass(frozen=True)
class Selection:
    """A Service's selected pods, classified once per (namespace, selector) and data (the pod, endpoint, port,
    traffic and policy checks all ask). Read only: the tuples are shared by every Service of that selection."""

    by_name: tuple[Pod, ...]  # every selected pod, sorted by name
    ready: tuple[Pod, ...]  # the ready ones (`is_ready`), in selection order
    serving: tuple[Pod, ...]  # ready with a pod IP, sorted by name
    live: tuple[Pod, ...]  # not terminal, sorted by name


def selection(snap: Snapshot) -> Selection:
    """`Selection` of the Service's selected pods (which depend only on the namespace, the selector and the
    data); memoised per data."""
    key = ("selection", snap.namespace, tuple(snap.selector.items()))
    memo = snap.data.memo
    found: Selection | None = memo.get(key)
    if found is None:
        pods = snap.selected_pods
        ready = tuple(p for p in pods if is_ready(p))
        ready_ids = {id(p) for p in ready}
        by_name = tuple(sorted(pods, key=name_of))  # sorting is stable: filtering after it keeps the order
        found = memo[key] = Selection(
            by_name,
            ready,
            tuple(p for p in by_name if id(p) in ready_ids and pod_ip(p)),
            tuple(p for p in by_name if not is_terminal(p)),
        )
    return found


@dataclass(frozen=True)
class PodProblem:
    """The earliest reason one pod is not serving."""

    category: Category
    reason: str  # short reason, e.g. "CrashLoopBackOff", "Unschedulable"
    detail: str  # the API's message or a derived explanation
    field: str  # where it was read


_IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def _statuses(pod: Pod) -> Iterator[tuple[str, ContainerStatus]]:
    status = pod.status
    for cs in status.init_container_statuses:
        yield "initContainerStatuses", cs
    for cs in status.container_statuses:
        yield "containerStatuses", cs


def pod_problem(pod: Pod) -> PodProblem | None:
    """Classify one pod: terminating, unschedulable, image, config, crash, no IP, not ready; None = serving."""
    md = pod.metadata
    status = pod.status
    if md.deletion_timestamp:
        return PodProblem(
            Category.PODS_TERMINATING,
            "Terminating",
            f"deletionTimestamp {md.deletion_timestamp}",
            "metadata.deletionTimestamp",
        )
    if is_terminal(pod):
        phase = status.phase
        return PodProblem(
            Category.PODS_NO_IP,
            phase,
            f"pod is {phase} ({status.reason or 'terminal'}); terminal pods are never endpoints",
            "status.phase",
        )
    sched: PodCondition | None = None
    ready: PodCondition | None = None
    for c in status.conditions:  # the first condition of each type counts, as `condition` reads it
        ctype = c.type
        if ctype == "PodScheduled":
            if sched is None:
                sched = c
        elif ctype == "Ready" and ready is None:
            ready = c
    if sched is not None and sched.status == "False":
        return PodProblem(
            Category.PODS_UNSCHEDULABLE,
            sched.reason or "Unschedulable",
            sched.message or "not scheduled",
            "status.conditions[PodScheduled]",
        )
    if not pod.spec.node_name and status.phase == "Pending":
        return PodProblem(Category.PODS_UNSCHEDULABLE, "Pending", "no node assigned yet", "spec.nodeName")
    # image and config errors of any container come first, then the first crash loop (one pass)
    crash: tuple[str, ContainerStatus] | None = None
    for key, statuses in (
        ("initContainerStatuses", status.init_container_statuses),
        ("containerStatuses", status.container_statuses),
    ):
        for cs in statuses:
            waiting = cs.state.waiting
            if waiting is None:
                continue
            reason = waiting.reason
            if reason in _IMAGE_REASONS:
                detail = waiting.message or f"image {cs.image}"
                return PodProblem(
                    Category.PODS_IMAGE_PULL, reason, detail, f"status.{key}[{cs.name}].state.waiting"
                )
            if reason in _CONFIG_REASONS:
                return PodProblem(
                    Category.PODS_CONFIG_ERROR,
                    reason,
                    waiting.message or reason,
                    f"status.{key}[{cs.name}].state.waiting",
                )
            if reason == "CrashLoopBackOff" and crash is None:
                crash = (key, cs)
    if crash is not None:
        key, cs = crash
        last = cs.last_state.terminated
        detail = f"restarts {cs.restart_count}"
        if last is not None:
            detail += f", last terminated: {last.reason or 'Error'} (exit code {last.exit_code})"
        return PodProblem(
            Category.PODS_CRASHLOOP,
            "CrashLoopBackOff",
            detail,
            f"status.{key}[{cs.name}].lastState.terminated",
        )
    if pod.spec.init_containers and (held := _init_problem(pod)) is not None:
        return held
    if not pod_ip(pod):
        return PodProblem(
            Category.PODS_NO_IP, "NoPodIP", "scheduled but has no IP (sandbox/CNI not ready)", "status.podIP"
        )
    if not ready or ready.status != "True":
        reason = (ready.reason if ready else "") or "NotReady"
        gates = [g.condition_type for g in pod.spec.readiness_gates]
        failing_gates = [g for g in gates if (gc := condition(pod, g)) is None or gc.status != "True"]
        if failing_gates:
            return PodProblem(
                Category.PODS_NOT_READY,
                "ReadinessGatesNotReady",
                f"readiness gates not true: {', '.join(failing_gates)}",
                "spec.readinessGates",
            )
        probes = [
            f"{c.name}: {_describe_probe(c.readiness_probe)}"
            for c in serving_containers(pod)
            if c.readiness_probe is not None
        ]
        detail = (ready.message if ready else "") or "containers not ready"
        if probes:
            detail += "; readiness probe " + "; ".join(probes)
        return PodProblem(Category.PODS_NOT_READY, reason, detail, "status.conditions[Ready]")
    return None


def _init_problem(pod: Pod) -> PodProblem | None:
    """A pod held in a regular init container (its app containers never started: not a readiness matter).
    An init container merely waiting on a pod without an IP is a sandbox problem (no IP), not the hold."""
    hold = init_hold(pod)
    if hold is None or (not pod_ip(pod) and hold.state.startswith(("waiting", "not started"))):
        return None
    return PodProblem(
        Category.PODS_INIT_BLOCKED,
        hold.reason,
        hold.describe(),
        f"status.initContainerStatuses[{hold.name}]",
    )


def _describe_probe(probe: Probe | None) -> str:
    if probe is None:
        return "none"
    if probe.http_get is not None:
        h = probe.http_get
        return f"GET {h.path} on port {h.port}"
    if probe.tcp_socket is not None:
        return f"TCP port {probe.tcp_socket.port}"
    if probe.grpc is not None:
        return f"gRPC port {probe.grpc.port}"
    if probe.exec is not None:
        return "exec " + " ".join(probe.exec.command)
    return "unknown"


# ---- helpers for the pod, port, traffic-policy, exposure and consumer checks (pure) --------------------


def pods_phrase(pods: Sequence[Pod], population: Sequence[Pod]) -> str:
    """How many of `population` are `pods`, named by owner: `2 of 3 pods of deployment/web` (one workload),
    `1 of 2 selected pods (deployment/web-canary)`, `all 2 selected pods (pod/a, pod/b)`, `the pod web`."""
    total = len(population)
    owners = sorted({owner_label(p) for p in pods})
    count = f"{len(pods)} of {total}" if len(pods) != total else ("all " + str(total) if total > 1 else "the")
    noun = "pod" if total == 1 else "pods"
    one_workload = len(owners) == 1 and not owners[0].startswith("pod/")
    if one_workload and {owner_label(p) for p in population} == set(owners):
        return f"{count} {noun} of {owners[0]}"
    if total == 1:
        return f"the pod {name_of(pods[0])}"
    named = owners if one_workload else sorted(name_of(p) for p in pods)
    return f"{count} selected {noun} ({', '.join(named[:3])}{', ...' if len(named) > 3 else ''})"


def template_owner(pod: Pod) -> Owner | None:
    """The workload whose pod template can be patched (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job)."""
    o = owner_of(pod)
    if o and o.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return o
    return None


def find_container(pod: Pod, name: str) -> Container | None:
    spec = pod.spec
    for c in [*spec.containers, *spec.init_containers]:
        if c.name == name:
            return c
    return None


def waiting_status(pod: Pod, reasons: Iterable[str]) -> tuple[str, ContainerStatus] | None:
    """(status list key, container status) of the first container waiting with one of `reasons`."""
    wanted = set(reasons)
    for key, cs in _statuses(pod):
        if cs.state.waiting is not None and cs.state.waiting.reason in wanted:
            return key, cs
    return None


def json_pointer(*parts: str | int) -> str:
    """RFC 6901 pointer for `kubectl patch --type=json` (`/` in label keys becomes `~1`)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# ---- nodes ---------------------------------------------------------------------------------------------


def node_ready(node: Node) -> bool:
    for c in node.status.conditions:
        if c.type == "Ready":
            return c.status == "True"
    return False


def node_schedulable(node: Node) -> bool:
    """Not cordoned (`spec.unschedulable`)."""
    return not node.spec.unschedulable


def node_addresses(node: Node, address_type: str) -> list[str]:
    return [a.address for a in node.status.addresses if a.type == address_type and a.address]


def tolerates(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    """core/v1 Toleration.ToleratesTaint: empty effect matches all; Exists with empty key matches every key."""
    for t in tolerations:
        if t.effect and t.effect != taint.effect:
            continue
        op = t.operator or "Equal"
        if op == "Exists":
            if not t.key or t.key == taint.key:
                return True
        elif t.key == taint.key and t.value == taint.value:
            return True
    return False


def untolerated_taints(spec: PodSpec, node: Node) -> list[Taint]:
    """The node's NoSchedule/NoExecute taints a pod (spec) does not tolerate (PreferNoSchedule never blocks)."""
    tolerations = spec.tolerations
    return [
        t
        for t in node.spec.taints
        if t.effect in ("NoSchedule", "NoExecute") and not tolerates(tolerations, t)
    ]


def format_taint(taint: Taint) -> str:
    return f"{taint.key}{'=' + taint.value if taint.value else ''}:{taint.effect}"


def _node_requirement_matches(expr: LabelSelectorRequirement, labels: Mapping[str, str]) -> bool:
    key, op = expr.key, expr.operator
    values = expr.values
    if op in ("In", "NotIn", "Exists", "DoesNotExist"):
        return expression_matches(expr, labels)
    if op in ("Gt", "Lt") and key in labels and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_selector_misses(spec: PodSpec, node: Node) -> list[str]:
    """Why a pod's (spec's) nodeSelector / required node affinity excludes `node` ([] = it fits)."""
    labels = node.metadata.labels
    misses = [
        f"lacks {k}={v}" + (f" (has {k}={labels[k]})" if k in labels else "")
        for k, v in sorted(spec.node_selector.items())
        if labels.get(k) != v
    ]
    terms = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    if terms:
        fields = {"metadata.name": node.metadata.name}

        def term_ok(term: NodeSelectorTerm) -> bool:
            return all(_node_requirement_matches(e, labels) for e in term.match_expressions) and all(
                _node_requirement_matches(e, fields) for e in term.match_fields
            )

        if not any(term_ok(t) for t in terms):
            misses.append("does not match the required node affinity")
    return misses


# ---- events --------------------------------------------------------------------------------------------


def event_time(event: Event) -> str:
    """The newest timestamp of a core/v1 Event (ISO strings compare in time order)."""
    candidates = [
        event.series.last_observed_time if event.series is not None else None,
        event.last_timestamp,
        event.event_time,
        event.first_timestamp,
        event.metadata.creation_timestamp,
    ]
    return max((c[:19] for c in candidates if c), default="")


def event_message(event: Event) -> str:
    return event.message.strip()


def event_source(event: Event) -> str:
    return event.source.component or event.reporting_component


def newest_event(events: Iterable[Event]) -> Event | None:
    return max(events, key=event_time, default=None)
