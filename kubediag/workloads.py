"""Pure facts about pods: their top-level owner, their ports, and why a pod is not serving."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kubediag.labels import labels_of
from kubediag.model import Category, Obj
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
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c  # type: ignore[no-any-return]
    return None


def is_ready(pod: Obj) -> bool:
    c = condition(pod, "Ready")
    return bool(c and c.get("status") == "True") and not meta(pod).get("deletionTimestamp")


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
        return PodProblem(Category.PODS_TERMINATING, "Terminating", f"deletionTimestamp {md['deletionTimestamp']}",
                          "metadata.deletionTimestamp")
    if is_terminal(pod):
        phase = status.get("phase")
        return PodProblem(Category.PODS_NO_IP, str(phase), f"pod is {phase} ({status.get('reason') or 'terminal'}); "
                          "terminal pods are never endpoints", "status.phase")
    sched = condition(pod, "PodScheduled")
    if sched is not None and sched.get("status") == "False":
        return PodProblem(Category.PODS_UNSCHEDULABLE, str(sched.get("reason") or "Unschedulable"),
                          str(sched.get("message") or "not scheduled"), "status.conditions[PodScheduled]")
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
            return PodProblem(Category.PODS_CONFIG_ERROR, reason, str(waiting.get("message") or reason), where)
    for key, cs in _statuses(pod):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == "CrashLoopBackOff":
            last = (cs.get("lastState") or {}).get("terminated") or {}
            detail = f"restarts {cs.get('restartCount', 0)}"
            if last:
                detail += f", last terminated: {last.get('reason') or 'Error'} (exit code {last.get('exitCode')})"
            return PodProblem(Category.PODS_CRASHLOOP, "CrashLoopBackOff", detail,
                              f"status.{key}[{cs.get('name')}].lastState.terminated")
    if not pod_ip(pod):
        return PodProblem(Category.PODS_NO_IP, "NoPodIP", "scheduled but has no IP (sandbox/CNI not ready)",
                          "status.podIP")
    ready = condition(pod, "Ready")
    if not ready or ready.get("status") != "True":
        reason = str((ready or {}).get("reason") or "NotReady")
        gates = [str(g.get("conditionType")) for g in (pod.get("spec") or {}).get("readinessGates") or []]
        failing_gates = [g for g in gates if (condition(pod, g) or {}).get("status") != "True"]
        if failing_gates:
            return PodProblem(Category.PODS_NOT_READY, "ReadinessGatesNotReady",
                              f"readiness gates not true: {', '.join(failing_gates)}", "spec.readinessGates")
        probes = [
            f"{c.get('name')}: {_describe_probe(c.get('readinessProbe'))}"
            for c in serving_containers(pod) if c.get("readinessProbe")
        ]
        detail = str((ready or {}).get("message") or "containers not ready")
        if probes:
            detail += "; readiness probe " + "; ".join(probes)
        return PodProblem(Category.PODS_NOT_READY, reason, detail, "status.conditions[Ready]")
    return None


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
