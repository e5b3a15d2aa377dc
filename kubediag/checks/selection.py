"""Selection: does the selector catch the pods of exactly one workload?"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from kubediag.checks.base import NotApplicable, check
from kubediag.controllers import (
    Workload,
    template_matches,
    unavailable_workload_kinds,
    workloads_in,
    workloads_read,
)
from kubediag.labels import format_map, labels_of
from kubediag.labels import selector_matches as selector_matches_labels
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Pod
from kubediag.remedy import is_placement_label
from kubediag.snapshot import Snapshot, name_of, ns_of
from kubediag.text import is_close


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


def _siblings(a: str, b: str) -> bool:
    """Values that differ only in their numbers (`v1` / `v2`): deliberate variants, not typos."""
    return a != b and re.sub(r"\d+", "#", a) == re.sub(r"\d+", "#", b)


class _Memo:
    """`_siblings` and `is_close` remembered for one scan of many label sets against one selector: the sets
    repeat the same keys and values, and the edit distance is most of the cost. Dropped with the scan."""

    __slots__ = ("close_pairs", "sibling_pairs")

    def __init__(self) -> None:
        self.close_pairs: dict[tuple[str, str], bool] = {}
        self.sibling_pairs: dict[tuple[str, str], bool] = {}

    def close(self, a: str, b: str) -> bool:
        return _remembered(self.close_pairs, is_close, a, b)

    def siblings(self, a: str, b: str) -> bool:
        return _remembered(self.sibling_pairs, _siblings, a, b)


def _remembered(table: dict[tuple[str, str], bool], test: Callable[[str, str], bool], a: str, b: str) -> bool:
    """test(a, b), asked once per pair of `table`."""
    found = table.get((a, b))
    if found is None:
        found = table[(a, b)] = test(a, b)
    return found


def near_miss(
    selector: Mapping[str, str], labels: Mapping[str, str], memo: _Memo | None = None
) -> tuple[tuple[str, ...], dict[str, str]] | None:
    """How `labels` nearly match `selector`: every pair matches exactly or nearly. None if not near.
    `memo` remembers the string comparisons across calls (a scan of many label sets); same answers."""
    close, siblings = (memo.close, memo.siblings) if memo is not None else (is_close, _siblings)
    diffs: list[str] = []
    fixed: dict[str, str] = {}
    for k, v in selector.items():
        if labels.get(k) == v:
            fixed[k] = v
            continue
        if k in labels and siblings(labels[k], v):
            return None  # v1 / v2, api-1 / api-2: versions by design, never a slip
        if k in labels and (labels[k].lower() == v.lower() or close(labels[k], v)):
            diffs.append(f"label {k}: selector wants {v!r}, pod has {labels[k]!r}")
            fixed[k] = labels[k]
            continue
        other_key = next((lk for lk, lv in labels.items() if lv == v and lk != k), None)
        if other_key is not None:
            diffs.append(f"value {v!r} is under key {other_key!r}, not {k!r}")
            fixed[other_key] = v
            continue
        close_key = next((lk for lk in labels if close(lk, k)), None)
        if close_key is not None and (labels[close_key] == v or close(labels[close_key], v)):
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


def _named_like(service: str, workload: str) -> bool:
    """The workload is the Service's own by name: `web` for Service `web`, `web-svc`, `web-service`..."""

    def norm(name: str) -> str:
        for suffix in ("-service", "-svc", "-srv", "-headless", "-hl", "-internal", "-lb", "-np"):
            if name.endswith(suffix) and len(name) > len(suffix):
                return name[: -len(suffix)]
        return name

    return service == workload or norm(service) == norm(workload)


@dataclass(frozen=True)
class _Candidate:
    """A near miss and the fix it calls for; `rank` orders them (lowest first)."""

    rank: int
    subject: str  # "deployment/web" or "pod/web-1 of deployment/web"
    differences: tuple[str, ...]
    remediation: str
    evidence: Evidence
    owner: str = ""  # the workload whose pods or template nearly match


def _namespace_selectors(snap: Snapshot) -> list[tuple[str, Mapping[str, str]]]:
    """(name, selector) of every Service of the namespace that has a selector (built once per namespace)."""
    key = ("service_selectors", snap.namespace)
    if key not in snap.data.memo:
        out: list[tuple[str, Mapping[str, str]]] = []
        for svc in snap.data.services_by_ns.get(snap.namespace, ()):
            sel = svc.spec.selector
            if sel:
                out.append((svc.metadata.name, sel))
        snap.data.memo[key] = out
    return snap.data.memo[key]  # type: ignore[no-any-return]


def _claimed_by(snap: Snapshot, labels: Mapping[str, str]) -> list[str]:
    """Other Services of the namespace whose selector matches these labels."""
    key = ("claimed_by", snap.namespace, frozenset(labels.items()))
    if key not in snap.data.memo:
        snap.data.memo[key] = [
            n for n, sel in _namespace_selectors(snap) if all(labels.get(k) == v for k, v in sel.items())
        ]
    return [n for n in snap.data.memo[key] if n != snap.name]


def _owner_keys(snap: Snapshot) -> Mapping[int, str]:
    """id(pod) -> its owner as `ClusterData.pods_by_owner` keys it ("replicaset/web-5d8f"), for every owned
    pod of the data: read from that index once instead of from each pod again. Bare pods are not in it (nor
    in the index): `_owner_key` names them "pod/NAME"."""
    key = ("owner-key-by-pod",)
    memo = snap.data.memo
    if key not in memo:  # the data holds the pods, so their ids are stable while the memo lives
        memo[key] = {id(p): owner for (_, owner), pods in snap.data.pods_by_owner.items() for p in pods}
    return memo[key]  # type: ignore[no-any-return]


def _owner_key(keys: Mapping[int, str], pod: Pod) -> str:
    """The pod's owner as `owner_label` spells it, "pod/NAME" for a bare pod (`keys`: `_owner_keys`)."""
    return keys.get(id(pod)) or f"pod/{pod.metadata.name}"


def _canon(snap: Snapshot, owner: str) -> str:
    """`replicaset/web-5d8f` -> `deployment/web` when Deployment web exists (a pod without its
    pod-template-hash label is otherwise attributed to its ReplicaSet)."""
    kind, _, name = owner.partition("/")
    if kind == "replicaset":
        for d in snap.data.deployments_by_ns.get(snap.namespace, ()):
            if name.startswith(d.metadata.name + "-"):
                return f"deployment/{d.metadata.name}"
    return owner


def _repoint_is_safe(snap: Snapshot, selector: Mapping[str, str], owner: str, own: bool) -> str:
    """"" when pointing the Service at `selector` reaches only `owner`'s pods (and templates), and `owner`
    is not another Service's backend (unless it is the Service's own workload by name); else why not."""
    if not selector:
        return "an empty selector"
    owner = _canon(snap, owner)
    pods = snap.data.pods_matching(snap.namespace, selector)
    keys = _owner_keys(snap)
    owners = {_canon(snap, k) for k in {_owner_key(keys, p) for p in pods}}
    if owners - {owner}:
        return f"it would also select pods of {', '.join(sorted(owners - {owner}))}"
    templates = {w.ref for w in template_matches(snap.data, snap.namespace, selector)}
    if templates - {owner}:
        return f"it would also select the pod template of {', '.join(sorted(templates - {owner}))}"
    if not own:
        if snap.data.sibling_services_unknown:
            return f"whether another Service uses those pods is unknown ({snap.data.sibling_services_unknown})"
        claimed = sorted(
            {s for p in pods for s in _claimed_by(snap, labels_of(p))}
            | {s for w in template_matches(snap.data, snap.namespace, selector) for s in _claimed_by(snap, w.template_labels)}
        )
        if claimed:
            return f"those pods are the backends of Service {', '.join(claimed)}"
    return ""


def _template_patch(snap: Snapshot, w: Workload, labels: Mapping[str, str]) -> str:
    body = {"spec": {"template": {"metadata": {"labels": dict(sorted(labels.items()))}}}}
    return (
        f"kubectl -n {snap.namespace} patch {w.kind.lower()} {w.name} --type=merge "
        f"-p '{json.dumps(body, separators=(',', ':'))}'"
    )


def _workload_candidate(snap: Snapshot, w: Workload) -> _Candidate | None:
    """A workload whose pod template nearly carries the selector: add the labels to its template, or point
    the selector at its labels, whichever changes nothing that another Service or workload receives."""
    sel, tl = snap.selector, w.template_labels
    missing = {k: v for k, v in sel.items() if k not in tl}
    differ = {k: v for k, v in sel.items() if k in tl and tl[k] != v}
    if not missing and not differ:
        return None
    own = _named_like(snap.name, w.name)
    on_meta = all(w.obj.metadata.labels.get(k) == v for k, v in sel.items())
    near = near_miss(sel, tl)
    if not (own or on_meta or near):
        return None
    diffs: list[str] = []
    if on_meta:
        diffs.append(
            f"{', '.join(f'{k}={v}' for k, v in sorted({**missing, **differ}.items()))} is on {w.ref}'s own "
            "labels but not on its pod template (spec.template.metadata.labels)"
        )
    elif near:
        diffs.extend(d.replace("pod has", "template has") for d in near[0])
    else:
        diffs += [f"its pod template lacks {k}={v}" for k, v in sorted(missing.items())]
        diffs += [f"label {k}: selector wants {v!r}, pod template has {tl[k]!r}" for k, v in sorted(differ.items())]
    # (A) the template gets the selector's labels: possible when no changed key is fixed by the workload's
    # own (immutable) selector, safe when no other Service starts selecting its pods
    new_labels = {**tl, **sel}
    template_ok = all(k not in w.selector_labels for k in differ) and selector_matches_labels(w.obj.spec.selector, new_labels)
    newly_claimed = sorted(set(_claimed_by(snap, new_labels)) - set(_claimed_by(snap, tl)))
    template_fix = ""
    if template_ok and not newly_claimed and (own or on_meta):
        template_fix = (
            f"add {format_map({**missing, **differ})} to {w.ref}'s pod template (the selector reads pod labels; "
            f"this rolls out new pods): {_template_patch(snap, w, {**missing, **differ})}"
        )
    # (B) the selector follows the template: safe when it then reaches this workload only
    fixed = near[1] if near else {k: tl[k] for k in sel if k in tl}
    selector_fix = ""
    if fixed and not _repoint_is_safe(snap, fixed, w.ref, own):
        selector_fix = _patch_cmd(snap, fixed)
    if not template_fix and not selector_fix:
        return None
    if selector_fix and template_fix:
        remediation = f"{selector_fix}\n# or {template_fix}"
    else:
        remediation = selector_fix or template_fix[0].upper() + template_fix[1:]
    evidence = Evidence(
        w.kind, snap.namespace, w.name, "spec.template.metadata.labels", format_map(tl) if tl else "<none>", format_map(sel)
    )
    return _Candidate(0 if own else 3, w.ref, tuple(diffs), remediation, evidence, w.ref)


def _owner_label_sets(snap: Snapshot) -> list[tuple[str, Pod, int, Mapping[str, str]]]:
    """(owner, first pod, label-set id, labels) for each distinct (owner, label set) of the namespace's pods,
    in pod order (built once per namespace): a near miss depends only on the labels, so a later pod with the
    same owner and labels adds nothing."""
    memo_key = ("owner_label_sets", snap.namespace)
    if memo_key not in snap.data.memo:
        ids: dict[tuple[tuple[str, str], ...], int] = {}
        keys = _owner_keys(snap)
        seen: set[tuple[str, int]] = set()
        out: list[tuple[str, Pod, int, Mapping[str, str]]] = []
        canon: dict[str, str] = {}  # owner key -> `_canon` of it (which scans the namespace's Deployments)
        for pod in snap.namespace_pods:
            key = _owner_key(keys, pod)
            owner = canon.get(key)
            if owner is None:
                owner = canon[key] = _canon(snap, key)
            labels = labels_of(pod)
            labels_id = ids.setdefault(tuple(labels.items()), len(ids))
            if (owner, labels_id) not in seen:
                seen.add((owner, labels_id))
                out.append((owner, pod, labels_id, labels))
        snap.data.memo[memo_key] = out
    return snap.data.memo[memo_key]  # type: ignore[no-any-return]


def _pod_candidates(snap: Snapshot, skip_owners: set[str]) -> tuple[list[_Candidate], list[str]]:
    """Pods whose labels nearly match, one per owner, with a selector fix when it is safe; and the owners
    whose pods nearly match but are not proposed (why)."""
    out: list[_Candidate] = []
    refused: list[str] = []
    seen: set[str] = set(skip_owners)
    nms: dict[int, tuple[tuple[str, ...], dict[str, str]] | None] = {}  # per distinct label set
    memo = _Memo()
    for owner, pod, labels_id, labels in _owner_label_sets(snap):
        if owner in seen:
            continue
        if labels_id not in nms:
            nms[labels_id] = near_miss(snap.selector, labels, memo)
        nm = nms[labels_id]
        if nm is None:
            continue
        seen.add(owner)
        own = _named_like(snap.name, owner.split("/", 1)[1])
        unsafe = _repoint_is_safe(snap, nm[1], owner, own)
        if unsafe:
            refused.append(f"{owner}'s pods nearly match, but pointing the selector at them is not proposed: {unsafe}")
            continue
        label = name_of(pod) if owner.startswith("pod/") else f"{name_of(pod)} of {owner}"
        out.append(
            _Candidate(
                1 if own else 2,
                f"pod/{label}",
                nm[0],
                _patch_cmd(snap, nm[1]),
                Evidence("Pod", snap.namespace, name_of(pod), "metadata.labels", "; ".join(nm[0]), format_map(snap.selector)),
                owner,
            )
        )
    return out, refused


@check(
    id="KD201",
    category=Category.SELECTOR_NO_MATCH,
    stage=Stage.SELECTION,
    title="The selector matches pods",
    needs=[Kind.SERVICE, Kind.POD],
    what="""
Matches `spec.selector` against every pod of the namespace. When none matches, first reads the workloads
(Deployments, ReplicaSets, StatefulSets, DaemonSets): when one's pod template carries the selector's labels the
selector is right and KD204/KD205 say why that workload has no pods. Only when no pod template matches is the
selector blamed, with the near misses ranked: the workload named like the Service whose template misses a label
first, then pods whose labels differ by case or a few edits (`front-end` vs `frontend`), the value under another
key (`run` vs `app`), a misspelt key, labels set on a Deployment but not on its pod template, and pods that match
in other namespaces (a Service selects only in its own namespace). A fix never points the Service at pods that
another Service serves or that belong to several workloads.""",
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
`kubectl -n shop patch service web --type=merge -p '{"spec":{"selector":{"app":"frontend"}}}'`, or add the
missing label to the workload's pod template when other Services already use the pods that nearly match.
Never put a label only on the Deployment's own metadata: the selector reads pod labels.""",
)
def selector_matches(snap: Snapshot) -> Iterator[Finding]:
    _needs_selector(snap)
    if snap.selected_pods:
        return
    sel = snap.selector
    data = snap.data
    templates = template_matches(data, snap.namespace, sel)
    gaps = unavailable_workload_kinds(data)
    if templates and workloads_read(data):
        raise NotApplicable(
            f"the pod template of {', '.join(w.ref for w in templates)} matches the selector: KD204/KD205 say "
            "why it has no pods"
        )
    parts = [
        f"Service {snap.namespace}/{snap.name} selects {format_map(sel)} but no pod in namespace "
        f"{snap.namespace} has these labels"
    ]
    evidence = [
        Evidence("Service", snap.namespace, snap.name, "spec.selector", format_map(sel), "labels of at least one pod")
    ]
    remediation = (
        f"kubectl -n {snap.namespace} get pods --show-labels   # then set spec.selector to the pods' labels"
    )
    if templates:
        # some workload kinds could not be read, so KD204/KD205 cannot judge: say what is known, blame nothing
        refs = ", ".join(w.ref for w in templates)
        parts.append(f"but the pod template of {refs} carries these labels, so the selector is probably right")
        yield selector_matches.finding(
            Severity.CRITICAL,
            "; ".join(parts),
            f"kubectl -n {snap.namespace} describe {templates[0].ref}   # replicas, conditions and events: why it "
            f"has no pods ({'; '.join(g.describe() for g in gaps)})",
            evidence,
        )
        return
    candidates = [c for w in workloads_in(data, snap.namespace) if (c := _workload_candidate(snap, w))]
    # the workload named like the Service is judged on its template; any other workload by its pods when it
    # has some (the pod that nearly matches is what the user sees with `kubectl get pods --show-labels`)
    pod_cands, refused = _pod_candidates(snap, {c.owner for c in candidates if c.rank == 0})
    with_pods = {c.owner for c in pod_cands}
    candidates = sorted(
        [c for c in candidates if c.rank == 0 or c.owner not in with_pods] + pod_cands, key=lambda c: c.rank
    )
    elsewhere = sorted(
        {ns_of(p) for p in data.pods_matching_any_ns(sel) if ns_of(p) != snap.namespace}
        | {ns_of(p) for p in data.foreign_matches}
    )
    if candidates:
        best = candidates[0]
        parts.append(f"near miss {best.subject}: {'; '.join(best.differences)}")
        evidence += [c.evidence for c in candidates[:5]]
        remediation = best.remediation
    elif refused:
        parts.append(refused[0])
    if elsewhere:
        parts.append(
            f"pods with these labels exist in namespace(s) {', '.join(elsewhere)}; a Service selects "
            "only pods in its own namespace"
        )
        evidence.append(Evidence("Namespace", None, elsewhere[0], "pods", "matching pods", f"in {snap.namespace}"))
        if not candidates:
            remediation = (
                f"Create the Service in namespace {elsewhere[0]} (or move the workload into "
                f"{snap.namespace}); clients then call {snap.name}.{elsewhere[0]}"
            )
    if not snap.namespace_pods:
        parts.append(f"namespace {snap.namespace} has no pods at all")
    if gaps:
        parts.append(
            "workloads scaled to zero or unable to create pods could not be ruled out ("
            + "; ".join(g.describe() for g in gaps)
            + ")"
        )
        remediation = (
            f"kubectl -n {snap.namespace} get deployments,statefulsets,daemonsets,replicasets -l "
            f"{','.join(f'{k}={v}' for k, v in sorted(sel.items()))}   # a workload of these labels scaled to 0? "
            f"else:\n{remediation}"
        )
    yield selector_matches.finding(Severity.CRITICAL, "; ".join(parts), remediation, evidence)


def _owners(snap: Snapshot) -> Mapping[str, list[Pod]]:
    """The selected pods per owner, without the pods that have none (bare pods, "pod/NAME": neither KD202
    nor KD203 counts them, and `_owner_keys` leaves them out), once per Service (both ask; read only)."""
    key = "selected-owners"
    memo = snap.memo
    if key not in memo:
        keys = _owner_keys(snap)
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in snap.selected_pods:
            owner = keys.get(id(p))
            if owner is not None:
                out[owner].append(p)
        memo[key] = dict(out)
    return memo[key]  # type: ignore[no-any-return]


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
    selected_names: set[str] | None = None
    for owner, pods in sorted(_owners(snap).items()):
        siblings = snap.data.pods_by_owner.get((snap.namespace, owner), ())
        if len(siblings) == len(pods):
            continue  # the owner's selected pods are among its pods: as many means all of them
        if selected_names is None:
            selected_names = {name_of(p) for p in snap.selected_pods}
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
    owners = _owners(snap)
    if len(owners) < 2:
        return
    names = sorted(owners)
    # the intended workload: the one named like the Service, else the first by name
    intended = next((n for n in names if n.split("/", 1)[-1] == snap.name), names[0])
    distinguishing: list[str] = []
    first = labels_of(owners[intended][0])
    for k, v in sorted(first.items()):
        if (
            not is_placement_label(k)  # zone, hostname, pod-template-hash...: placement, not identity
            and k not in snap.selector
            and all(labels_of(ps[0]).get(k) != v for n, ps in owners.items() if n != intended)
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
