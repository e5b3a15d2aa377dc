"""Pure facts about pods: their top-level owner, their ports, and why a pod is not serving."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.initwait import init_hold
from kubediag.labels import expression_matches, labels_of
from kubediag.model import Category, Obj
from kubediag.objects import Event, Node, Taint
from kubediag.snapshot import meta, name_of


@dataclass(frozen=True, order=True)
class Owner:
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name}"


def owner_of(pod: Obj) -> Owner | None:
    """The top-level owner: a ReplicaSet's Deployment is read from the pod-template-hash naming rule."""
    refs = meta(pod).get("ownerReferences") or []
    ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if not ref:
        return None
    kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
    if kind == "ReplicaSet":
        h = labels_of(pod).get("pod-template-hash")
        if h and name.endswith("-" + h):
            return Owner("Deployment", name[: -len(h) - 1])
    return Owner(kind, name)


def owner_label(pod: Obj) -> str:
    o = owner_of(pod)
    return str(o) if o else f"pod/{name_of(pod)}"


def serving_containers(pod: Obj) -> Iterator[Mapping[str, Any]]:
    """Containers that can serve traffic: regular ones and native sidecars (init, restartPolicy Always)."""
    spec = pod.get("spec") or {}
    yield from spec.get("containers") or []
    for c in spec.get("initContainers") or []:
        if c.get("restartPolicy") == "Always":
            yield c


def container_ports(pod: Obj) -> list[tuple[str, Mapping[str, Any]]]:
    """(container name, port entry) for every declared port of every serving container."""
    return [(str(c.get("name")), p) for c in serving_containers(pod) for p in c.get("ports") or []]


def port_protocol(port: Mapping[str, Any]) -> str:
    return str(port.get("protocol") or "TCP")


def condition(pod: Obj, ctype: str) -> Mapping[str, Any] | None:
    status = pod.get("status")
    if not status:
        return None
    for c in status.get("conditions") or ():
        if c.get("type") == ctype:
            return c  # type: ignore[no-any-return]
    return None


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return False
    return not meta(pod).get("deletionTimestamp")


def pod_ip(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


@dataclass(frozen=True)
class PodProblem:
    """The earliest reason one pod is not serving."""

    category: Category
    reason: str  # short reason, e.g. "CrashLoopBackOff", "Unschedulable"
    detail: str  # the API's message or a derived explanation
    field: str  # where it was read


_IMAGE_REASONS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
_CONFIG_REASONS = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}


def _statuses(pod: Obj) -> Iterator[tuple[str, Mapping[str, Any]]]:
    status = pod.get("status") or {}
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or []:
            yield key, cs


def pod_problem(pod: Obj) -> PodProblem | None:
    """Classify one pod: terminating, unschedulable, image, config, crash, no IP, not ready; None = serving."""
    md = meta(pod)
    status = pod.get("status") or {}
    if md.get("deletionTimestamp"):
        return PodProblem(
            Category.PODS_TERMINATING,
            "Terminating",
            f"deletionTimestamp {md['deletionTimestamp']}",
            "metadata.deletionTimestamp",
        )
    if is_terminal(pod):
        phase = status.get("phase")
        return PodProblem(
            Category.PODS_NO_IP,
            str(phase),
            f"pod is {phase} ({status.get('reason') or 'terminal'}); terminal pods are never endpoints",
            "status.phase",
        )
    sched = condition(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        return PodProblem(
            Category.PODS_UNSCHEDULABLE,
            str(sched.get("reason") or "Unschedulable"),
            str(sched.get("message") or "not scheduled"),
            "status.conditions[PodScheduled]",
        )
    if not (pod.get("spec") or {}).get("nodeName") and status.get("phase", "Pending") == "Pending":
        return PodProblem(Category.PODS_UNSCHEDULABLE, "Pending", "no node assigned yet", "spec.nodeName")
    for key, cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        where = f"status.{key}[{cs.get('name')}].state.waiting"
        if reason in _IMAGE_REASONS:
            detail = str(waiting.get("message") or f"image {cs.get('image')}")
            return PodProblem(Category.PODS_IMAGE_PULL, reason, detail, where)
        if reason in _CONFIG_REASONS:
            return PodProblem(
                Category.PODS_CONFIG_ERROR, reason, str(waiting.get("message") or reason), where
            )
    for key, cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            detail = f"restarts {cs.get('restartCount', 0)}"
            if last:
                detail += (
                    f", last terminated: {last.get('reason') or 'Error'} (exit code {last.get('exitCode')})"
                )
            return PodProblem(
                Category.PODS_CRASHLOOP,
                "CrashLoopBackOff",
                detail,
                f"status.{key}[{cs.get('name')}].lastState.terminated",
            )
    if (held := _init_problem(pod)) is not None:
        return held
    if not pod_ip(pod):
        return PodProblem(
            Category.PODS_NO_IP, "NoPodIP", "scheduled but has no IP (sandbox/CNI not ready)", "status.podIP"
        )
    ready = condition(pod, "Ready")
    if not ready or ready.get("status") != "True":
        reason = str((ready or {}).get("reason") or "NotReady")
        gates = [str(g.get("conditionType")) for g in (pod.get("spec") or {}).get("readinessGates") or []]
        failing_gates = [g for g in gates if (condition(pod, g) or {}).get("status") != "True"]
        if failing_gates:
            return PodProblem(
                Category.PODS_NOT_READY,
                "ReadinessGatesNotReady",
                f"readiness gates not true: {', '.join(failing_gates)}",
                "spec.readinessGates",
            )
        probes = [
            f"{c.get('name')}: {_describe_probe(c.get('readinessProbe'))}"
            for c in serving_containers(pod)
            if c.get("readinessProbe")
        ]
        detail = str((ready or {}).get("message") or "containers not ready")
        if probes:
            detail += "; readiness probe " + "; ".join(probes)
        return PodProblem(Category.PODS_NOT_READY, reason, detail, "status.conditions[Ready]")
    return None


def _init_problem(pod: Obj) -> PodProblem | None:
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


def _describe_probe(probe: Mapping[str, Any] | None) -> str:
    if not probe:
        return "none"
    if "httpGet" in probe:
        h = probe["httpGet"]
        return f"GET {h.get('path', '/')} on port {h.get('port')}"
    if "tcpSocket" in probe:
        return f"TCP port {probe['tcpSocket'].get('port')}"
    if "grpc" in probe:
        return f"gRPC port {probe['grpc'].get('port')}"
    if "exec" in probe:
        return "exec " + " ".join(str(a) for a in probe["exec"].get("command") or [])
    return "unknown"


# ---- helpers for the pod, port, traffic-policy, exposure and consumer checks (pure) --------------------


def pods_phrase(pods: Sequence[Obj], population: Sequence[Obj]) -> str:
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


def template_owner(pod: Obj) -> Owner | None:
    """The workload whose pod template can be patched (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job)."""
    o = owner_of(pod)
    if o and o.kind in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        return o
    return None


def find_container(pod: Obj, name: str) -> Mapping[str, Any] | None:
    spec = pod.get("spec") or {}
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if c.get("name") == name:
            return c  # type: ignore[no-any-return]
    return None


def waiting_status(pod: Obj, reasons: Iterable[str]) -> tuple[str, Mapping[str, Any]] | None:
    """(status list key, container status) of the first container waiting with one of `reasons`."""
    wanted = set(reasons)
    for key, cs in _statuses(pod):
        if ((cs.get("state") or {}).get("waiting") or {}).get("reason") in wanted:
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


def tolerates(tolerations: Iterable[Mapping[str, Any]], taint: Taint) -> bool:
    """core/v1 Toleration.ToleratesTaint: empty effect matches all; Exists with empty key matches every key."""
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.effect:
            continue
        op = t.get("operator") or "Equal"
        if op == "Exists":
            if not t.get("key") or t.get("key") == taint.key:
                return True
        elif t.get("key") == taint.key and str(t.get("value") or "") == taint.value:
            return True
    return False


def untolerated_taints(pod: Obj, node: Node) -> list[Taint]:
    """The node's NoSchedule/NoExecute taints the pod does not tolerate (PreferNoSchedule never blocks)."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    return [
        t
        for t in node.spec.taints
        if t.effect in ("NoSchedule", "NoExecute") and not tolerates(tolerations, t)
    ]


def format_taint(taint: Taint) -> str:
    return f"{taint.key}{'=' + taint.value if taint.value else ''}:{taint.effect}"


def _node_requirement_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op = str(expr.get("key", "")), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op in ("In", "NotIn", "Exists", "DoesNotExist"):
        return expression_matches(expr, labels)
    if op in ("Gt", "Lt") and key in labels and values:
        try:
            have, want = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > want if op == "Gt" else have < want
    return False


def node_selector_misses(pod: Obj, node: Node) -> list[str]:
    """Why the pod's nodeSelector / required node affinity excludes `node` ([] = it fits)."""
    spec = pod.get("spec") or {}
    labels = node.metadata.labels
    misses = [
        f"lacks {k}={v}" + (f" (has {k}={labels[k]})" if k in labels else "")
        for k, v in sorted((spec.get("nodeSelector") or {}).items())
        if labels.get(k) != v
    ]
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        fields = {"metadata.name": node.metadata.name}

        def term_ok(term: Mapping[str, Any]) -> bool:
            return all(
                _node_requirement_matches(e, labels) for e in term.get("matchExpressions") or []
            ) and all(_node_requirement_matches(e, fields) for e in term.get("matchFields") or [])

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
