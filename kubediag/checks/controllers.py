"""Workloads that make no pods: the selector is right, but the workload behind it is scaled to zero or its
controller cannot create pods. Judged before any selector verdict (KD201 defers to these)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubediag.checks.base import check
from kubediag.controllers import (
    WORKLOAD_KINDS,
    CreateFailure,
    Rejection,
    Workload,
    active,
    classify_rejection,
    creation_failures,
    describe_manager,
    hpas_for,
    keda_scaledobject,
    last_applied_replicas,
    limit_range_settings,
    pods_of,
    quota_pods_used,
    replicas_setter,
    template_matches,
)
from kubediag.labels import map_selector_matches
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Container
from kubediag.snapshot import Snapshot
from kubediag.workloads import format_taint, node_selector_misses, untolerated_taints

# Field managers that are a person at a terminal; any other manager (a GitOps controller, an operator)
# sets spec.replicas back after a manual `kubectl scale`.
_HUMAN_MANAGERS = ("kubectl", "kubectl-scale", "kubectl-edit", "kubectl-patch", "kubectl-client-side-apply")


def _template_matches(snap: Snapshot) -> str | None:
    """KD204/KD205's precondition (`applies`): a workload's pod template matches the selector."""
    if snap.svc_type == "ExternalName" or not snap.selector:
        return "the Service selects no pods"
    if not template_matches(snap.data, snap.namespace, snap.selector):
        return "no workload's pod template matches the selector"
    return None


def _matching(snap: Snapshot) -> tuple[Workload, ...]:
    """The workloads whose pod template matches the selector (some do: `_template_matches`)."""
    return template_matches(snap.data, snap.namespace, snap.selector)


def _serving(snap: Snapshot) -> int:
    return sum(1 for p in snap.selected_pods if active(p))


def _selected_pods_of(snap: Snapshot, w: Workload) -> int:
    return sum(1 for p in pods_of(snap.data, w) if map_selector_matches(snap.selector, p.metadata.labels))


# ---- KD204 ----------------------------------------------------------------------------------------------


def _who_scaled(snap: Snapshot, w: Workload) -> tuple[str, str, list[Evidence]]:
    """(who set replicas to 0, the fix, evidence) for a Deployment, StatefulSet or ReplicaSet."""
    ns = snap.namespace
    evidence: list[Evidence] = []
    who: list[str] = []
    hpa_gap = snap.data.missing(Kind.HPA)
    hpas = hpas_for(snap.data, w)
    setter = replicas_setter(w.obj)
    count = 1
    fix = ""
    if setter is not None:
        who.append(f"spec.replicas was last set by {describe_manager(setter)}")
        evidence.append(
            Evidence(w.kind, ns, w.name, "metadata.managedFields[spec.replicas]", describe_manager(setter), "spec.replicas >= 1")
        )
    elif w.obj.metadata.managed_fields:
        # an update through /scale leaves spec.replicas owned by no field manager (kubectl scale, autoscalers)
        who.append(
            "no field manager owns spec.replicas: it was set through the scale subresource (`kubectl scale` or "
            "an autoscaler)"
        )
        evidence.append(
            Evidence(w.kind, ns, w.name, "metadata.managedFields[spec.replicas]", "no manager", "spec.replicas >= 1")
        )
    if hpas:
        h = hpas[0]
        so = keda_scaledobject(h)
        bounds = f"minReplicas {h.spec.min_replicas}, maxReplicas {h.spec.max_replicas}"
        evidence.append(
            Evidence("HorizontalPodAutoscaler", ns, h.metadata.name, "spec", bounds, "minReplicas >= 1")
        )
        if so:
            who.append(
                f"it is autoscaled by KEDA ScaledObject {so} (through HPA {h.metadata.name}: {bounds}); KEDA scales "
                "the workload to zero while its triggers are idle (minReplicaCount 0)"
            )
            fix = (
                f"kubectl -n {ns} patch scaledobject {so} --type=merge -p '{{\"spec\":{{\"minReplicaCount\":1}}}}'"
                f"   # keep one pod; or check why its triggers report no load (kubectl -n {ns} describe "
                f"scaledobject {so})"
            )
        elif h.spec.min_replicas == 0:
            who.append(f"HPA {h.metadata.name} may scale it to zero ({bounds})")
            fix = (
                f"kubectl -n {ns} patch hpa {h.metadata.name} --type=merge -p '{{\"spec\":{{\"minReplicas\":1}}}}'"
            )
        else:
            who.append(
                f"HPA {h.metadata.name} targets it ({bounds}) but does not scale a workload that is at 0 replicas "
                "(autoscaling stays disabled until it is scaled up)"
            )
            count = h.spec.min_replicas
    elif hpa_gap is not None and hpa_gap.reason != "not-read":
        who.append(f"whether an autoscaler manages it is unknown ({hpa_gap.describe()})")
    if not fix:
        previous = last_applied_replicas(w.obj)
        if not hpas and previous:
            count = previous
            who.append(f"the last `kubectl apply` set replicas: {previous}")
        fix = f"kubectl -n {ns} scale {w.ref} --replicas={count}"
        if setter is not None and setter.manager not in _HUMAN_MANAGERS and not hpas:
            fix += (
                f"   # spec.replicas is owned by {setter.manager!r}: change the count in its source too, or "
                "it scales back"
            )
    return "; ".join(who), fix, evidence


def _node_reasons(snap: Snapshot, w: Workload) -> tuple[str, str]:
    """Why a DaemonSet's pod template fits no node, and the fix."""
    gap = snap.data.missing(Kind.NODE)
    ns = snap.namespace
    look = (
        f"kubectl get nodes --show-labels; kubectl -n {ns} get {w.ref} -o jsonpath='{{.spec.template.spec}}'"
        "   # then make the DaemonSet's nodeSelector/affinity/tolerations fit the nodes it should run on"
    )
    if gap is not None:
        why = "not readable" if gap.reason != "not-read" else "not read"
        return f"the nodes were {why} ({gap.describe()}), so the node-selection reason is unknown", look
    nodes = snap.data.nodes
    if not nodes:
        return "the cluster has no nodes", look
    spec = w.template_spec
    reasons: dict[str, int] = {}
    for n in nodes:
        excluded = [m.split(" (has ", 1)[0] for m in node_selector_misses(spec, n)] + [
            f"taint {format_taint(t)} not tolerated" for t in untolerated_taints(spec, n)
        ]
        for r in excluded or ["fits (the status may be stale)"]:
            reasons[r] = reasons.get(r, 0) + 1
    text = "; ".join(f"{count} of {len(nodes)} nodes: {r}" for r, count in sorted(reasons.items(), key=lambda x: -x[1]))
    return f"no node fits its pod template ({text})", look


@check(
    id="KD204",
    applies=_template_matches,
    category=Category.WORKLOAD_SCALED_TO_ZERO,
    stage=Stage.SELECTION,
    title="The workloads the selector matches want pods",
    needs=[Kind.SERVICE, Kind.POD, *WORKLOAD_KINDS],
    what="""
When no pod serves the Service, finds the workloads whose pod template carries the selector's labels
(Deployments, StatefulSets, ReplicaSets, DaemonSets) and reports those that want no pods: `spec.replicas: 0`, or
a DaemonSet that matches no node (`status.desiredNumberScheduled: 0`). Says who set the count when the API shows
it: a HorizontalPodAutoscaler or KEDA ScaledObject (and its bounds), else the field manager that owns
`spec.replicas` (`kubectl-scale`, `kubectl`, a GitOps controller) and when; for a DaemonSet, why each node is
excluded (nodeSelector, required node affinity, untolerated taints).""",
    why="""
A workload at zero replicas makes no pods, so the Service has no endpoints: connections to it are refused and
Ingresses answer 503. The selector is right; patching it would only point the Service at the wrong pods.""",
    example="""
kind: Service
spec: {selector: {app: mysql}}
---
kind: Deployment
metadata: {name: mysql}
spec:
  replicas: 0          # kubectl scale deployment mysql --replicas=0
  template: {metadata: {labels: {app: mysql}}}""",
    fix="""
Scale it back up: `kubectl -n shop scale deployment/mysql --replicas=1` (the HPA's minReplicas, or the count
of the last `kubectl apply`, when known). For KEDA, raise the ScaledObject's `minReplicaCount` or fix its
triggers; when a GitOps controller owns `spec.replicas`, change the count in its source.""",
)
def workload_scaled_to_zero(snap: Snapshot) -> Iterator[Finding]:
    matches = _matching(snap)
    zero = [w for w in matches if w.desired == 0]
    if not zero:
        return
    serving = _serving(snap)
    if serving:
        yield workload_scaled_to_zero.finding(
            Severity.INFO,
            f"{', '.join(w.ref for w in zero)} (pod template matches the selector) wants no pods; {serving} pod(s) "
            "of other workloads serve",
            "none needed while other workloads serve the Service (scale it up only if it should serve too)",
        )
        return
    w = zero[0]
    ns = snap.namespace
    others = [x.ref for x in zero[1:]]
    if w.scalable:
        who, fix, evidence = _who_scaled(snap, w)
        message = (
            f"{w.ref} is scaled to zero (spec.replicas: 0): its pod template matches the selector of Service "
            f"{ns}/{snap.name}, which has no pod"
        )
        evidence.insert(
            0, Evidence(w.kind, ns, w.name, "spec.replicas", "0", f"at least 1 (Service {snap.name} selects its pods)")
        )
    else:
        who, fix = _node_reasons(snap, w)
        message = (
            f"{w.ref} runs on no node (status.desiredNumberScheduled: 0): its pod template matches the selector of "
            f"Service {ns}/{snap.name}, which has no pod"
        )
        evidence = [
            Evidence(w.kind, ns, w.name, "status.desiredNumberScheduled", "0", "at least 1 node that fits its pods")
        ]
    if who:
        message += f"; {who}"
    if others:
        message += f"; also at zero: {', '.join(others)}"
    leaving = sum(1 for p in snap.selected_pods if p.metadata.deletion_timestamp)
    if leaving:
        # the pods still terminating are the nearer symptom (KD306 says what holds them); this is why
        # nothing replaces them
        message += f"; {leaving} selected pod(s) are still terminating and nothing replaces them"
    yield workload_scaled_to_zero.finding(Severity.WARNING if leaving else Severity.CRITICAL, message, fix, evidence)


# ---- KD205 ----------------------------------------------------------------------------------------------


def _containers(w: Workload) -> list[Container]:
    return list(w.template_spec.containers)


_PSA_CONTAINER_FIXES: dict[str, dict[str, Any]] = {
    "allowPrivilegeEscalation": {"allowPrivilegeEscalation": False},
    "unrestricted capabilities": {"capabilities": {"drop": ["ALL"]}},
    "privileged": {"privileged": False},
}
_PSA_POD_FIXES: dict[str, dict[str, Any]] = {
    "runAsNonRoot": {"runAsNonRoot": True},
    "seccompProfile": {"seccompProfile": {"type": "RuntimeDefault"}},
}


def _psa_fix(snap: Snapshot, w: Workload, rej: Rejection) -> str:
    pod: dict[str, Any] = {}
    container: dict[str, Any] = {}
    unfixable = []
    for item in rej.items:
        head = item.split(" (", 1)[0]
        hit = False
        for key, patch in _PSA_CONTAINER_FIXES.items():
            if head.startswith(key):
                container.update(patch)
                hit = True
        for key, patch in _PSA_POD_FIXES.items():
            if head.startswith(key):
                pod.update(patch)
                hit = True
        if not hit:
            unfixable.append(head)
    ns = snap.namespace
    relax = (
        f"(relaxing the namespace's pod-security.kubernetes.io/enforce label instead is a decision for the "
        f"namespace's owner: it applies to every pod of {ns})"
    )
    if unfixable or not (pod or container):
        return (
            f"Make {w.ref}'s pod template meet Pod Security {rej.name!r}: remove or change {', '.join(unfixable)} "
            f"(kubectl -n {ns} edit {w.ref}) {relax}"
        )
    spec: dict[str, Any] = {}
    if pod:
        spec["securityContext"] = pod
    if container:
        spec["containers"] = [{"name": c.name, "securityContext": container} for c in _containers(w)]
    body = json.dumps({"spec": {"template": {"spec": spec}}}, separators=(",", ":"))
    note = "   # the image must then run as a non-root user (set runAsUser if its USER is root)" if pod.get(
        "runAsNonRoot"
    ) else ""
    return f"kubectl -n {ns} patch {w.ref} --type=strategic -p '{body}'{note}\n# {relax}"


def _remediation(snap: Snapshot, w: Workload, rej: Rejection, missing: int, failure: CreateFailure) -> str:
    ns = snap.namespace
    used = quota_pods_used(failure.message)
    if rej.cause == "quota" and rej.items and all(i == "pods" for i in rej.items) and used is not None:
        body = json.dumps({"spec": {"hard": {"pods": str(used + missing)}}}, separators=(",", ":"))
        return (
            f"kubectl -n {ns} patch resourcequota {rej.name} --type=merge -p '{body}'   # {used} pods used + "
            f"{missing} not created; or free pods it counts (kubectl -n {ns} describe resourcequota {rej.name})"
        )
    if rej.cause == "quota" and rej.items and rej.items[0].startswith("must specify"):
        return (
            f"Set the resources the quota names on every container of {w.ref}, e.g. kubectl -n {ns} set resources "
            f"{w.ref} --requests=cpu=<cpu>,memory=<memory> --limits=cpu=<cpu>,memory=<memory>"
        )
    if rej.cause == "quota":
        return (
            f"kubectl -n {ns} describe resourcequota {rej.name}   # raise the exhausted spec.hard values, or lower "
            f"the requests of {w.ref}'s pod template"
        )
    if rej.cause == "pod-security":
        return _psa_fix(snap, w, rej)
    settings = limit_range_settings(failure.message) if rej.cause == "limit-range" else []
    containers = _containers(w)
    if settings and len(containers) == 1:
        flags: dict[str, list[str]] = {}
        for flag, resource, value in settings:
            flags.setdefault(flag, []).append(f"{resource}={value}")
        args = " ".join(f"{flag}={','.join(sorted(v))}" for flag, v in sorted(flags.items()))
        return (
            f"kubectl -n {ns} set resources {w.ref} -c {containers[0].name} {args}   # within the "
            f"namespace's LimitRange (kubectl -n {ns} get limitrange -o yaml); or change the LimitRange"
        )
    if rej.cause == "limit-range":
        return (
            f"kubectl -n {ns} get limitrange -o yaml   # then bring {w.ref}'s container resources within its "
            f"limits, e.g. kubectl -n {ns} set resources {w.ref} --limits=<resource>=<value within the max>"
        )
    if rej.cause == "service-account":
        return (
            f"kubectl -n {ns} create serviceaccount {rej.name}   # or set {w.ref}'s "
            "spec.template.spec.serviceAccountName to an existing ServiceAccount"
        )
    if rej.cause == "webhook":
        return (
            f"kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations | grep -F "
            f"'{rej.name.split('.', 1)[-1]}'   # the webhook {rej.name} rejects {w.ref}'s pods: make the template "
            "meet its policy or have its owner fix it"
        )
    return f"kubectl -n {ns} describe {failure.kind.lower()}/{failure.name}   # the FailedCreate events say why"


@check(
    id="KD205",
    applies=_template_matches,
    category=Category.PODS_NOT_CREATED,
    stage=Stage.SELECTION,
    title="The workloads the selector matches can create their pods",
    needs=[Kind.SERVICE, Kind.POD, *WORKLOAD_KINDS],
    what="""
For each workload whose pod template carries the selector's labels and that wants more pods than it has,
reads why its controller cannot create them: the `FailedCreate` Warning events of its ReplicaSets
(StatefulSet, DaemonSet) and the `ReplicaFailure` condition of the Deployment and ReplicaSet. Names the
rejection: a ResourceQuota (name, used and hard), the Pod Security level and the offending fields, a LimitRange
limit, a missing ServiceAccount, or the admission webhook that denied the pod.""",
    why="""
The API server rejects the pod before it exists, so no pod, event or status on a pod shows the problem and
`kubectl get pods` is simply empty (or short of replicas): with no pod the Service has no endpoints; with fewer
pods than wanted the remaining ones carry all the load.""",
    example="""
kind: ResourceQuota
spec: {hard: {pods: "1"}}
---
kind: Deployment
spec: {replicas: 3}
# ReplicaSet event FailedCreate: pods "web-..." is forbidden: exceeded quota: pod-quota, requested: pods=1,
# used: pods=1, limited: pods=1""",
    fix="""
Remove the rejection: raise the ResourceQuota or free it, make the pod template meet the namespace's Pod
Security level (securityContext) or LimitRange, create the ServiceAccount, or satisfy the webhook's policy.
The controller retries on its own once the pod is admitted.""",
)
def pods_not_created(snap: Snapshot) -> Iterator[Finding]:
    matches = _matching(snap)
    serving = _serving(snap)
    ns = snap.namespace
    for w in matches:
        if w.desired <= 0:
            continue
        have = _selected_pods_of(snap, w)
        if have >= w.desired:
            continue
        failures = creation_failures(snap.data, w)
        if have:
            # an event older than the newest pod was followed by a successful create: history, not the cause
            newest = max(p.metadata.creation_timestamp[:19] for p in pods_of(snap.data, w))
            failures = [f for f in failures if not f.field.startswith("event") or f.time >= newest]
        want = f"{w.ref} wants {w.desired} pod{'s' if w.desired != 1 else ''} but {have} exist"
        if not failures:
            if serving or have:
                continue  # a rollout or a controller catching up: the pod checks judge the pods that exist
            gap = snap.data.missing(Kind.EVENT)
            why = (
                f"no ReplicaFailure condition says why and the events could not be read ({gap.describe()})"
                if gap is not None and gap.reason != "not-read"
                else "no FailedCreate event or ReplicaFailure condition says why (is the controller manager "
                "running? events expire after an hour)"
            )
            yield pods_not_created.finding(
                Severity.CRITICAL,
                f"{want}, and {why}",
                f"kubectl -n {ns} describe {w.ref}; kubectl -n {ns} get events --field-selector type=Warning",
                [Evidence(w.kind, ns, w.name, "pods", str(have), str(w.desired))],
            )
            continue
        latest = failures[0]
        rej = classify_rejection(latest.message)
        severity = Severity.WARNING if serving else Severity.CRITICAL
        tail = "" if serving else f"; Service {ns}/{snap.name} has no pod"
        message = f"{want}: the API server rejects them: {rej.summary}{tail}"
        evidence = [
            Evidence(latest.kind, ns, latest.name, latest.field, latest.message, "pods admitted"),
            Evidence(w.kind, ns, w.name, "replicas", f"{have} pods", f"{w.desired} pods"),
        ]
        yield pods_not_created.finding(
            severity, message, _remediation(snap, w, rej, w.desired - have, latest), evidence
        )
