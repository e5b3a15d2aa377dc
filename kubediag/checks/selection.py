"""Selection: does the selector catch the pods of exactly one workload?"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from kubediag.checks.base import NotApplicable, check
from kubediag.labels import format_map, labels_of
from kubediag.model import Category, Evidence, Finding, Kind, Obj, Severity, Stage
from kubediag.snapshot import Snapshot, name_of, ns_of
from kubediag.text import is_close
from kubediag.workloads import owner_of


def _needs_selector(snap: Snapshot) -> None:
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service selects no pods")
    if not snap.selector:
        raise NotApplicable("the Service has no selector")


@dataclass(frozen=True)
class NearMiss:
    obj_kind: str
    name: str
    differences: tuple[str, ...]  # human-readable, one per selector pair that is not an exact match
    fixed_selector: Mapping[str, str]  # the selector that would match this object


def near_miss(
    selector: Mapping[str, str], labels: Mapping[str, str]
) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """How `labels` nearly match `selector`: every pair matches exactly or nearly. None if not near."""
    diffs: list[str] = []
    fixed: dict[str, str] = {}
    for k, v in selector.items():
        if labels.get(k) == v:
            fixed[k] = v
            continue
        if k in labels and (labels[k].lower() == v.lower() or is_close(labels[k], v)):
            diffs.append(f"label {k}: selector wants {v!r}, pod has {labels[k]!r}")
            fixed[k] = labels[k]
            continue
        other_key = next((lk for lk, lv in labels.items() if lv == v and lk != k), None)
        if other_key is not None:
            diffs.append(f"value {v!r} is under key {other_key!r}, not {k!r}")
            fixed[other_key] = v
            continue
        close_key = next((lk for lk in labels if is_close(lk, k)), None)
        if close_key is not None and (labels[close_key] == v or is_close(labels[close_key], v)):
            diffs.append(f"key {k!r} is spelled {close_key!r} on the pod")
            fixed[close_key] = labels[close_key]
            continue
        return None
    if not diffs:
        return None
    return tuple(diffs), fixed


def _patch_cmd(snap: Snapshot, selector: Mapping[str, str]) -> str:
    # A JSON merge patch replaces keys; removed keys must be set to null.
    body = {k: selector.get(k) for k in sorted(set(snap.selector) | set(selector))}
    return (
        f"kubectl -n {snap.namespace} patch service {snap.name} --type=merge "
        f"-p '{json.dumps({'spec': {'selector': body}}, separators=(',', ':'))}'"
    )


@check(
    id="KD201",
    category=Category.SELECTOR_NO_MATCH,
    stage=Stage.SELECTION,
    title="The selector matches pods",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Matches `spec.selector` against every pod of the namespace. When none matches, names the near misses: a label
value that differs by case or a few edits (`front-end` vs `frontend`), the value under another key
(`run` vs `app`), a misspelt key, labels set on the Deployment but not on its pod template, and pods that
match in other namespaces (a Service selects only in its own namespace).""",
    why="""
A Service whose selector matches no pod has no endpoints; kube-proxy rejects connections to its virtual IP
(`connection refused` / `no route to host`) and Ingresses answer 503.""",
    example="""
kind: Service
spec: {selector: {app: front-end}}
---
kind: Pod
metadata: {labels: {app: frontend}}""",
    fix="""
Patch the selector to the pods' labels, e.g.
`kubectl -n shop patch service web --type=merge -p '{"spec":{"selector":{"app":"frontend"}}}'`, or fix the
pod template labels. Never put a label only on the Deployment's own metadata: the selector reads pod labels.""",
)
def selector_matches(snap: Snapshot) -> Iterator[Finding]:
    _needs_selector(snap)
    if snap.selected_pods:
        return
    sel = snap.selector
    misses: list[NearMiss] = []
    seen_owners: set[str] = set()
    for pod in snap.namespace_pods:
        nm = near_miss(sel, labels_of(pod))
        if nm is None:
            continue
        owner = str(owner_of(pod) or f"pod/{name_of(pod)}")
        if owner in seen_owners:
            continue
        seen_owners.add(owner)
        label = name_of(pod) if owner.startswith("pod/") else f"{name_of(pod)} of {owner}"
        misses.append(NearMiss("Pod", label, nm[0], nm[1]))
    for d in snap.data.deployments_by_ns.get(snap.namespace, ()):
        tmpl_labels = labels_of(((d.get("spec") or {}).get("template")) or {})
        dep_labels = labels_of(d)
        if all(dep_labels.get(k) == v for k, v in sel.items()) and not all(
            tmpl_labels.get(k) == v for k, v in sel.items()
        ):
            missing = [f"{k}={v}" for k, v in sel.items() if tmpl_labels.get(k) != v]
            fixed = {k: v for k, v in tmpl_labels.items() if k in sel} or dict(tmpl_labels)
            misses.append(
                NearMiss(
                    "Deployment",
                    name_of(d),
                    (
                        f"{', '.join(missing)} is on deployment/{name_of(d)}'s own labels but not on its pod template "
                        "(spec.template.metadata.labels)",
                    ),
                    fixed,
                )
            )
    elsewhere = sorted(
        {ns_of(p) for p in snap.data.pods_matching_any_ns(sel) if ns_of(p) != snap.namespace}
        | {ns_of(p) for p in snap.data.foreign_matches}
    )
    parts = [
        f"Service {snap.namespace}/{snap.name} selects {format_map(sel)} but no pod in namespace "
        f"{snap.namespace} has these labels"
    ]
    evidence = [
        Evidence(
            "Service",
            snap.namespace,
            snap.name,
            "spec.selector",
            format_map(sel),
            "labels of at least one pod",
        )
    ]
    remediation = (
        f"kubectl -n {snap.namespace} get pods --show-labels   # then set spec.selector to the pods' labels"
    )
    if misses:
        best = misses[0]
        parts.append(f"near miss {best.obj_kind.lower()}/{best.name}: {'; '.join(best.differences)}")
        for m in misses[:5]:
            evidence.append(
                Evidence(
                    m.obj_kind,
                    snap.namespace,
                    m.name.split(" ", 1)[0],
                    "metadata.labels",
                    "; ".join(m.differences),
                    format_map(sel),
                )
            )
        if best.obj_kind == "Pod":
            remediation = _patch_cmd(snap, best.fixed_selector)
        else:
            remediation = (
                f"Add {format_map(sel)} to deployment/{best.name} spec.template.metadata.labels (the "
                f"selector reads pod labels), or {_patch_cmd(snap, best.fixed_selector)}"
            )
    if elsewhere:
        parts.append(
            f"pods with these labels exist in namespace(s) {', '.join(elsewhere)}; a Service selects "
            "only pods in its own namespace"
        )
        evidence.append(
            Evidence("Namespace", None, elsewhere[0], "pods", "matching pods", f"in {snap.namespace}")
        )
        if not misses:
            remediation = (
                f"Create the Service in namespace {elsewhere[0]} (or move the workload into "
                f"{snap.namespace}); clients then call {snap.name}.{elsewhere[0]}"
            )
    if not snap.namespace_pods:
        parts.append(f"namespace {snap.namespace} has no pods at all")
    yield selector_matches.finding(Severity.CRITICAL, "; ".join(parts), remediation, evidence)


def _owners(pods: tuple[Obj, ...]) -> dict[str, list[Obj]]:
    out: dict[str, list[Obj]] = defaultdict(list)
    for p in pods:
        out[str(owner_of(p) or f"pod/{name_of(p)}")].append(p)
    return out


@check(
    id="KD202",
    category=Category.SELECTOR_PARTIAL_MATCH,
    stage=Stage.SELECTION,
    title="The selector catches every pod of its workload",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
For each workload (Deployment, StatefulSet, DaemonSet...) that owns a selected pod, finds its pods that the
selector misses. Typical cause: a version or hash label in the selector that only one ReplicaSet carries.""",
    why="""
Pods the selector misses receive no traffic: after a rollout the Service keeps only the old pods (and loses
all of them when the old ReplicaSet scales to zero), or part of the replicas sit idle.""",
    example="""
kind: Service
spec: {selector: {app: api, version: v1}}
# deployment/api's new pod template says version: v2""",
    fix="""
Select on labels that every pod of the workload carries (usually `app` alone); keep version labels out of
Service selectors, or run one Service per version deliberately.""",
)
def selector_partial(snap: Snapshot) -> Iterator[Finding]:
    _needs_selector(snap)
    if not snap.selected_pods:
        raise NotApplicable("no pod is selected")
    selected_names = {name_of(p) for p in snap.selected_pods}
    for owner, pods in sorted(_owners(snap.selected_pods).items()):
        if owner.startswith("pod/"):
            continue
        siblings = snap.data.pods_by_owner.get((snap.namespace, owner), ())
        missed = [p for p in siblings if name_of(p) not in selected_names]
        if not missed:
            continue
        sample = missed[0]
        lacking = sorted(f"{k}={v}" for k, v in snap.selector.items() if labels_of(sample).get(k) != v)
        keep = {
            k: v for k, v in snap.selector.items() if all(labels_of(p).get(k) == v for p in missed + pods)
        }
        yield selector_partial.finding(
            Severity.WARNING,
            f"Service {snap.namespace}/{snap.name} selects {len(pods)} of {len(pods) + len(missed)} pods of "
            f"{owner}; pods such as {name_of(sample)} lack {', '.join(lacking)} and get no traffic",
            _patch_cmd(snap, keep)
            if keep
            else f"Give every pod of {owner} the labels {format_map(snap.selector)} in its pod template",
            [
                Evidence(
                    "Pod",
                    snap.namespace,
                    name_of(sample),
                    "metadata.labels",
                    format_map(labels_of(sample)),
                    format_map(snap.selector),
                )
            ],
        )


@check(
    id="KD203",
    category=Category.SELECTOR_OVERBROAD,
    stage=Stage.SELECTION,
    title="The selector catches one workload only",
    needs=[Kind.SERVICE, Kind.POD],
    what="Groups the selected pods by their top-level owner and reports when more than one workload is selected.",
    why="""
Traffic is spread over every selected pod: with two workloads sharing `app: web`, about 1 request in N goes to
the wrong application (wrong responses, 404s, protocol errors), which looks like a flaky service.""",
    example="""
kind: Service
spec: {selector: {app: web}}
# deployment/web and deployment/web-admin both label their pods app: web""",
    fix="""
Add a label that only the intended workload carries to its pod template and to the selector. A canary that
shares the label on purpose is fine: say so with a distinct `track` label.""",
)
def selector_overbroad(snap: Snapshot) -> Iterator[Finding]:
    _needs_selector(snap)
    # bare pods (no owner) are not a workload of their own: they do not count towards "several"
    owners = {k: v for k, v in _owners(snap.selected_pods).items() if not k.startswith("pod/")}
    if len(owners) < 2:
        return
    names = sorted(owners)
    distinguishing: list[str] = []
    first = labels_of(owners[names[0]][0])
    for k, v in sorted(first.items()):
        if (
            k != "pod-template-hash"
            and k not in snap.selector
            and all(labels_of(ps[0]).get(k) != v for n, ps in owners.items() if n != names[0])
        ):
            distinguishing.append(f"{k}={v}")
    suggestion = {**snap.selector, **dict([distinguishing[0].split("=", 1)])} if distinguishing else None
    yield selector_overbroad.finding(
        Severity.WARNING,
        f"Service {snap.namespace}/{snap.name} selects pods of {len(owners)} workloads "
        f"({', '.join(f'{n} x{len(owners[n])}' for n in names)}); traffic is split between them",
        _patch_cmd(snap, suggestion)
        if suggestion
        else f"Add a label unique to the intended workload's pod template and to the selector of {snap.name}",
        [
            Evidence(
                "Service",
                snap.namespace,
                snap.name,
                "spec.selector",
                format_map(snap.selector),
                "labels of one workload",
            )
        ]
        + [
            Evidence(
                o.split("/", 1)[0].capitalize(),
                snap.namespace,
                o.split("/", 1)[1],
                "pods selected",
                str(len(owners[o])),
                "0 (another workload)",
            )
            for o in names[1:4]
        ],
    )
