"""Pure facts about the workload controllers behind a Service: which workloads' pod templates a selector
matches, how many pods they want and have, who set their replica count, and why they cannot create pods.

Reads the typed workload objects (kubediag.objects) and the raw Events of a ClusterData. No I/O, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.labels import map_selector_matches
from kubediag.model import Kind, Unavailable
from kubediag.objects import (
    Condition,
    DaemonSet,
    Deployment,
    HorizontalPodAutoscaler,
    ManagedFieldsEntry,
    Pod,
    PodSpec,
    ReplicaSet,
    StatefulSet,
)
from kubediag.snapshot import ClusterData
from kubediag.workloads import event_message, event_time, is_terminal

# The kinds whose pod templates can match a Service's selector. Reading any of them is optional.
WORKLOAD_KINDS: tuple[Kind, ...] = (Kind.DEPLOYMENT, Kind.REPLICASET, Kind.STATEFULSET, Kind.DAEMONSET)
KEDA_LABEL = "scaledobject.keda.sh/name"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


@dataclass(frozen=True)
class Workload:
    """A top-level workload (a ReplicaSet owned by a Deployment is counted through its Deployment)."""

    kind: str  # Deployment | ReplicaSet | StatefulSet | DaemonSet
    obj: Any  # its kubediag.objects Struct

    @property
    def name(self) -> str:
        return str(self.obj.metadata.name)

    @property
    def namespace(self) -> str:
        return str(self.obj.metadata.namespace)

    @property
    def ref(self) -> str:
        """`deployment/web`, as kubectl and kubediag.workloads.Owner spell it."""
        return f"{self.kind.lower()}/{self.name}"

    @property
    def template_labels(self) -> Mapping[str, str]:
        return self.obj.spec.template.metadata.labels  # type: ignore[no-any-return]

    @property
    def template_spec(self) -> PodSpec:
        """The pod template's spec (empty for a ReplicaSet: read for its template labels only)."""
        spec = getattr(self.obj.spec.template, "spec", None)
        return spec if isinstance(spec, PodSpec) else PodSpec()

    @property
    def selector_labels(self) -> Mapping[str, str]:
        """The workload's own spec.selector.matchLabels: template labels under these keys cannot change."""
        return self.obj.spec.selector.match_labels  # type: ignore[no-any-return]

    @property
    def desired(self) -> int:
        if isinstance(self.obj, DaemonSet):
            return self.obj.status.desired_number_scheduled
        return int(self.obj.spec.replicas)

    @property
    def scalable(self) -> bool:
        return not isinstance(self.obj, DaemonSet)


def unavailable_workload_kinds(data: ClusterData) -> list[Unavailable]:
    """Workload kinds that could not be read (forbidden or failing): their absence proves nothing."""
    return [u for k in WORKLOAD_KINDS if (u := data.missing(k)) is not None and u.reason != "not-read"]


def workloads_read(data: ClusterData) -> bool:
    """Every workload kind was read completely (only then can 'no workload matches' be said)."""
    return all(data.missing(k) is None for k in WORKLOAD_KINDS)


def workloads_in(data: ClusterData, namespace: str) -> tuple[Workload, ...]:
    key = ("workloads_in", namespace)
    if key not in data.memo:
        out: list[Workload] = []
        for kind, name in (
            (Kind.DEPLOYMENT, "Deployment"),
            (Kind.STATEFULSET, "StatefulSet"),
            (Kind.DAEMONSET, "DaemonSet"),
            (Kind.REPLICASET, "ReplicaSet"),
        ):
            for o in data.by_namespace(kind).get(namespace, ()):
                ctl = o.metadata.controller
                if kind is Kind.REPLICASET and ctl is not None and ctl.kind == "Deployment":
                    continue  # judged through its Deployment
                out.append(Workload(name, o))
        data.memo[key] = tuple(out)
    return data.memo[key]  # type: ignore[no-any-return]


def template_matches(data: ClusterData, namespace: str, selector: Mapping[str, str]) -> tuple[Workload, ...]:
    """Workloads in `namespace` whose pod template carries every pair of the (non-empty) Service selector."""
    if not selector:
        return ()
    key = ("templates_by_label", namespace)
    if key not in data.memo:
        index: dict[tuple[str, str], list[Workload]] = {}
        for w in workloads_in(data, namespace):
            for pair in w.template_labels.items():
                index.setdefault(pair, []).append(w)
        data.memo[key] = index
    index = data.memo[key]
    candidates = min((index.get((k, v), []) for k, v in selector.items()), key=len)
    return tuple(w for w in candidates if map_selector_matches(selector, w.template_labels))


def active(pod: Pod) -> bool:
    """A pod its controller counts: created, not terminal, not being deleted."""
    return not is_terminal(pod) and not pod.metadata.deletion_timestamp


def pods_of(data: ClusterData, w: Workload) -> tuple[Pod, ...]:
    """The workload's active pods (through the pod's controller: a Deployment's via its ReplicaSets)."""
    return tuple(p for p in data.pods_by_owner.get((w.namespace, w.ref), ()) if active(p))


def owned_replicasets(data: ClusterData, w: Workload) -> tuple[ReplicaSet, ...]:
    if not isinstance(w.obj, Deployment):
        return (w.obj,) if isinstance(w.obj, ReplicaSet) else ()
    return tuple(
        rs
        for rs in data.by_namespace(Kind.REPLICASET).get(w.namespace, ())
        if (c := rs.metadata.controller) is not None and c.kind == "Deployment" and c.name == w.name
    )


# ---- who set the replica count -----------------------------------------------------------------------


def replicas_setter(obj: Deployment | StatefulSet | ReplicaSet) -> ManagedFieldsEntry | None:
    """The field manager that owns spec.replicas (newest first): `kubectl-scale`, `kubectl`, a GitOps
    controller, KEDA's operator..."""
    owners = [m for m in obj.metadata.managed_fields if m.touches("spec", "replicas")]
    return max(owners, key=lambda m: m.time, default=None)


def describe_manager(m: ManagedFieldsEntry) -> str:
    how = f"{m.operation or 'Update'}" + (f" via the {m.subresource} subresource" if m.subresource else "")
    when = f" at {m.time}" if m.time else ""
    return f"field manager {m.manager!r} ({how}){when}"


def hpas_for(data: ClusterData, w: Workload) -> tuple[HorizontalPodAutoscaler, ...]:
    return tuple(
        h
        for h in data.by_namespace(Kind.HPA).get(w.namespace, ())
        if h.spec.scale_target_ref.kind == w.kind and h.spec.scale_target_ref.name == w.name
    )


def keda_scaledobject(hpa: HorizontalPodAutoscaler) -> str | None:
    """The KEDA ScaledObject that manages this HPA (KEDA labels its HPAs and owns them), else None."""
    if hpa.metadata.labels.get(KEDA_LABEL):
        return hpa.metadata.labels[KEDA_LABEL]
    return next((o.name for o in hpa.metadata.owner_references if o.kind == "ScaledObject"), None)


def last_applied_replicas(obj: Any) -> int | None:
    """spec.replicas in `kubectl apply`'s last-applied-configuration (the count before a `kubectl scale`)."""
    raw = obj.metadata.annotations.get(LAST_APPLIED)
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    replicas = ((doc.get("spec") or {}) if isinstance(doc, dict) else {}).get("replicas", 1)
    return replicas if isinstance(replicas, int) else None


# ---- why a controller cannot create pods ---------------------------------------------------------------


@dataclass(frozen=True)
class CreateFailure:
    """One record of a controller failing to create a pod: a FailedCreate event or a ReplicaFailure
    condition."""

    kind: str  # the object that recorded it: ReplicaSet, StatefulSet, DaemonSet, Deployment
    name: str
    field: str  # "event FailedCreate" | "status.conditions[ReplicaFailure]"
    message: str
    time: str
    count: int = 1


def _failed_create_events(data: ClusterData, kind: str, namespace: str, name: str) -> list[CreateFailure]:
    out = []
    for e in data.events_for(kind, namespace, name):
        if e.reason == "FailedCreate" and e.type in ("Warning", ""):  # unset: Warning
            out.append(CreateFailure(kind, name, "event FailedCreate", event_message(e), event_time(e), e.count or 1))
    return out


def _replica_failure(kind: str, name: str, conditions: Sequence[Condition]) -> list[CreateFailure]:
    return [
        CreateFailure(kind, name, "status.conditions[ReplicaFailure]", c.message, (c.last_transition_time or "")[:19])
        for c in conditions
        if c.type == "ReplicaFailure" and c.status == "True" and c.message
    ]


def _hash_suffix_of(rs_name: str, deployment: str) -> bool:
    rest = rs_name[len(deployment) + 1 :]
    return rs_name.startswith(deployment + "-") and bool(rest) and rest.isalnum()


def creation_failures(data: ClusterData, w: Workload) -> list[CreateFailure]:
    """Every recorded pod-creation failure of the workload, newest first."""
    out: list[CreateFailure] = []
    if isinstance(w.obj, Deployment):
        names = {rs.metadata.name for rs in owned_replicasets(data, w)}
        # events on a ReplicaSet that was not read (or already replaced) still name it `<deployment>-<hash>`
        names |= {e.involved_object.name for e in data.events if e.involved_object.kind == "ReplicaSet"}
        for rs_name in sorted(n for n in names if _hash_suffix_of(n, w.name)):
            out += _failed_create_events(data, "ReplicaSet", w.namespace, rs_name)
        for rs in owned_replicasets(data, w):
            if rs.spec.replicas > 0:
                out += _replica_failure("ReplicaSet", rs.metadata.name, rs.status.conditions)
        out += _replica_failure("Deployment", w.name, w.obj.status.conditions)
    else:
        out += _failed_create_events(data, w.kind, w.namespace, w.name)
        out += _replica_failure(w.kind, w.name, list(getattr(w.obj.status, "conditions", [])))
    return sorted(out, key=lambda f: f.time, reverse=True)


@dataclass(frozen=True)
class Rejection:
    """What rejected the pod, read from the API server's message."""

    cause: str  # quota | pod-security | limit-range | service-account | webhook | other
    summary: str  # one line naming the object that rejects and the numbers or fields
    name: str = ""  # the quota, webhook or ServiceAccount named
    items: tuple[str, ...] = ()  # Pod Security violations / LimitRange limits, one each


_QUOTA = re.compile(r"exceeded quota: ([^,\s]+), requested: (\S+), used: (\S+), limited: (\S+)")
_QUOTA_SPEC = re.compile(r"failed quota: ([^:\s]+): (must specify [^\"]+)")
_PSA = re.compile(r'violates PodSecurity "([^"]+)": (.+)')
_LIMIT = re.compile(
    r"(maximum|minimum) (\S+) usage per (Container|Pod) is (\S+?),? but (limit|request) is (\S+?)(?=[,\]\s]|$)"
)
_RATIO = re.compile(r"(\S+) max limit to request ratio per (Container|Pod) is (\S+?),? but provided ratio is (\S+)")
_SA = re.compile(r'error looking up service account ([^/\s]+)/([^:\s]+): serviceaccount "([^"]+)" not found')
_WEBHOOK_DENY = re.compile(r'admission webhook "([^"]+)" denied the request:?\s*(.*)')
_WEBHOOK_CALL = re.compile(r'failed calling webhook "([^"]+)":?\s*(.*)')


def limit_range_settings(message: str) -> list[tuple[str, str, str]]:
    """(`--limits` | `--requests`, resource, value) that bring a Container within the LimitRange a
    rejection names (a maximum lowers the value to it, a minimum raises it)."""
    return [
        (f"--{g[4]}s", g[1], g[3]) for g in _LIMIT.findall(message) if g[2] == "Container"
    ]


def quota_pods_used(message: str) -> int | None:
    """`used: pods=N` of an exceeded-quota rejection (the count when the event was recorded)."""
    m = _QUOTA.search(message)
    used = _pairs(m.group(3)).get("pods") if m else None
    return int(used) if used is not None and used.isdigit() else None


def _pairs(text: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in text.split(",") if "=" in p)


def classify_rejection(message: str) -> Rejection:
    m = _QUOTA.search(message)
    if m:
        name, req, used, lim = m.group(1), _pairs(m.group(2)), _pairs(m.group(3)), _pairs(m.group(4))
        over = [r for r in lim if r in req]
        parts = [f"{r}: used {used.get(r, '?')} of hard {lim[r]}, a pod requests {req[r]}" for r in over]
        return Rejection(
            "quota", f"ResourceQuota {name} is exhausted ({'; '.join(parts) or m.group(0)})", name, tuple(over)
        )
    m = _QUOTA_SPEC.search(message)
    if m:
        return Rejection(
            "quota",
            f"ResourceQuota {m.group(1)} requires resources the pod template does not set ({m.group(2).strip()})",
            m.group(1),
            (m.group(2).strip(),),
        )
    m = _PSA.search(message)
    if m:
        items = tuple(i.strip() for i in re.split(r"(?<=\)), ", m.group(2).strip().rstrip(".")) if i.strip())
        return Rejection(
            "pod-security",
            f'the namespace enforces Pod Security "{m.group(1)}" and the pod template violates it: '
            + "; ".join(items),
            m.group(1),
            items,
        )
    limits = [
        f"{g[0]} {g[1]} per {g[2]} is {g[3]}, the template's {g[4]} is {g[5]}" for g in _LIMIT.findall(message)
    ] + [f"{g[0]} limit/request ratio per {g[1]} is at most {g[2]}, the template's is {g[3]}" for g in _RATIO.findall(message)]
    if limits:
        return Rejection("limit-range", "a LimitRange of the namespace rejects the pod: " + "; ".join(limits), "", tuple(limits))
    m = _SA.search(message)
    if m:
        return Rejection(
            "service-account", f"ServiceAccount {m.group(3)} does not exist in namespace {m.group(1)}", m.group(3)
        )
    m = _WEBHOOK_DENY.search(message)
    if m:
        why = m.group(2).strip()
        return Rejection("webhook", f"admission webhook {m.group(1)} denied the pod" + (f": {why}" if why else ""), m.group(1))
    m = _WEBHOOK_CALL.search(message)
    if m:
        return Rejection(
            "webhook", f"admission webhook {m.group(1)} could not be called (failurePolicy Fail): {m.group(2).strip()}", m.group(1)
        )
    return Rejection("other", message)
