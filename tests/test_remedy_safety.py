"""Remediation safety as a rule: every fix kubediag prints, for every check fixture and for generated clusters.

A fix must never
- select pods by placement or instance labels (node-copied `topology.kubernetes.io/*`, `kubernetes.io/hostname`,
  or `pod-template-hash`, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`,
  `apps.kubernetes.io/pod-index`, `batch.kubernetes.io/*`) in a suggested selector, policy or label patch;
- change what another Service or workload receives: a suggested Service selector must not take pods another
  Service selects, unless they are pods of the Service's own workload (named like it); a suggested NetworkPolicy
  must not newly isolate pods (policies are additive only for pods that are already isolated; when the pods of
  its namespace were not read, as for a `--from` client in another namespace, it must say to check); a label patch
  targets a workload the finding names;
- offer a port nobody dials: `kubectl expose --port=N` uses a port that clients dial (env, commands, Ingress
  backends) or the workload declares, says where it came from, and is never a silent 80.

The oracle here is independent of kubediag.remedy: its own list of placement labels, its own parsing of the
printed commands and manifests.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from fixtureload import FIXTURES, build_data, load_fixture

from kubediag.engine import diagnose
from kubediag.labels import labels_of
from kubediag.model import Finding
from kubediag.netpol import isolating_policies, spec_json
from kubediag.objects import Pod
from kubediag.snapshot import ClientRef, Snapshot, name_of

PLACEMENT = re.compile(
    r"^(?:topology\.kubernetes\.io/|topology\.k8s\.io/|failure-domain\.beta\.kubernetes\.io/|batch\.kubernetes\.io/"
    r"|kubernetes\.io/hostname$|pod-template-hash$|controller-revision-hash$|pod-template-generation$"
    r"|statefulset\.kubernetes\.io/pod-name$|apps\.kubernetes\.io/pod-index$|controller-uid$)"
)


# ---- reading the fix text ---------------------------------------------------------------------------------
def manifests(remediation: str) -> list[dict[str, Any]]:
    """YAML objects printed in a remediation (each starts at a line `apiVersion: ...`)."""
    docs: list[dict[str, Any]] = []
    for chunk in re.split(r"\n(?=apiVersion: )", remediation)[1:]:
        lines: list[str] = []
        for line in chunk.splitlines():
            if lines and not re.match(r"^(\s|kind:|metadata:|spec:)", line):
                break
            lines.append(line)
        doc = yaml.safe_load("\n".join(lines))
        if isinstance(doc, dict):
            docs.append(doc)
    return docs


def patches(remediation: str) -> Iterator[tuple[str, str, Any]]:
    """(resource, name, parsed -p body) of every `kubectl patch` in a remediation."""
    rx = re.compile(r"kubectl(?:\s+-n\s+\S+)?\s+patch\s+(\S+?)(?:[/\s]+)([\w.-]+)?\s[^\n]*?-p\s+'([^']*)'")
    for m in rx.finditer(remediation):
        resource, name, body = m.group(1), m.group(2) or "", m.group(3)
        if "/" in resource:
            resource, name = resource.split("/", 1)
        try:
            yield resource, name, json.loads(body)
        except ValueError:
            continue


def pod_selectors(obj: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every pod selector of a NetworkPolicy / Service manifest."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "NetworkPolicy":
        yield spec.get("podSelector") or {}
        for rule in list(spec.get("ingress") or []) + list(spec.get("egress") or []):
            for peer in list(rule.get("from") or []) + list(rule.get("to") or []):
                if "podSelector" in peer:
                    yield peer.get("podSelector") or {}
    if obj.get("kind") == "Service":
        yield {"matchLabels": spec.get("selector") or {}}


def selector_keys(sel: Mapping[str, Any]) -> set[str]:
    keys = {str(k) for k, v in (sel.get("matchLabels") or {}).items() if v is not None}
    return keys | {str(e.get("key")) for e in sel.get("matchExpressions") or []}


def suggested_label_keys(f: Finding) -> set[str]:
    """Label keys a fix would select pods by, or put on pods."""
    keys: set[str] = set()
    for doc in manifests(f.remediation):
        for sel in pod_selectors(doc):
            keys |= selector_keys(sel)
    for resource, _, body in patches(f.remediation):
        if resource in ("service", "svc") and isinstance(body, dict):
            keys |= {k for k, v in ((body.get("spec") or {}).get("selector") or {}).items() if v is not None}
        if isinstance(body, dict):
            tmpl = ((body.get("spec") or {}).get("template") or {}).get("metadata") or {}
            keys |= {k for k, v in (tmpl.get("labels") or {}).items() if v is not None}
            keys |= {
                k for k, v in ((body.get("metadata") or {}).get("labels") or {}).items() if v is not None
            }
        if isinstance(body, list):
            for op in body:
                path = str(op.get("path", ""))
                if op.get("op") in ("add", "replace") and re.search(r"/(selector|labels)(/|$)", path):
                    if "/nodeSelector" in path:
                        continue
                    keys.add(path.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~"))
    for m in re.finditer(r"kubectl(?:\s+-n\s+\S+)?\s+label\s+(?!node)\S+\s+\S+\s+([^#\n]+)", f.remediation):
        keys |= {w.split("=", 1)[0] for w in m.group(1).split() if "=" in w}
    return keys


def suggested_service_selectors(f: Finding) -> Iterator[tuple[str, dict[str, str]]]:
    """(Service name, the selector it would have) for every Service selector patch in a fix."""
    for resource, name, body in patches(f.remediation):
        if resource in ("service", "svc") and isinstance(body, dict):
            sel = (body.get("spec") or {}).get("selector")
            if isinstance(sel, dict):
                yield name, {str(k): str(v) for k, v in sel.items() if v is not None}


# ---- the rules --------------------------------------------------------------------------------------------
def _labels(o: Any) -> Mapping[str, str]:
    """Labels of a typed object (kubediag.objects) or of a suggested manifest (YAML parsed to a dict)."""
    if isinstance(o, dict):
        return (o.get("metadata") or {}).get("labels") or {}
    return labels_of(o)


def _name(o: Any) -> str:
    """Name of a typed object or of a suggested manifest."""
    if isinstance(o, dict):
        return str((o.get("metadata") or {}).get("name") or "")
    return name_of(o)


def _ns(o: Mapping[str, Any]) -> str:
    return str((o.get("metadata") or {}).get("namespace") or "")


def _owner(pod: Pod) -> str:
    refs = pod.metadata.owner_references
    if not refs:
        return ""
    name = refs[0].name
    h = pod.metadata.labels.get("pod-template-hash")
    return name[: -len(h) - 1] if h and refs[0].kind == "ReplicaSet" and name.endswith("-" + h) else name


def _own_workload(service: str, owner: str) -> bool:
    base = re.sub(r"-(svc|service|headless|internal)$", "", service)
    return bool(owner) and owner in (service, base)


def violations(snap: Snapshot, f: Finding) -> list[str]:
    out: list[str] = []
    text = f.remediation
    bad = sorted(k for k in suggested_label_keys(f) if PLACEMENT.match(k))
    if bad:
        out.append(f"{f.check_id}: the fix selects by placement/instance labels {bad}")
    # a Service selector must not take pods another Service selects (unless they are its own workload's)
    data = snap.data
    for svc_name, sel in suggested_service_selectors(f):
        if not sel:
            continue
        ns = snap.namespace
        taken = [
            p for p in data.pods_by_ns.get(ns, ()) if all(_labels(p).get(k) == v for k, v in sel.items())
        ]
        for other in data.services_by_ns.get(ns, ()):
            osel = other.spec.selector
            if other.metadata.name == svc_name or not osel:
                continue
            stolen = [
                p
                for p in taken
                if all(_labels(p).get(k) == v for k, v in osel.items())
                and not _own_workload(svc_name, _owner(p))
            ]
            if stolen:
                out.append(
                    f"{f.check_id}: the selector fix for {svc_name} takes pods of Service {_name(other)} "
                    f"({_name(stolen[0])} of {_owner(stolen[0]) or 'no owner'})"
                )
    # a suggested NetworkPolicy must not isolate pods that are not isolated today
    existing = list(data.networkpolicies)
    for doc in manifests(text):
        if doc.get("kind") != "NetworkPolicy":
            continue
        pns = str((doc.get("metadata") or {}).get("namespace") or snap.namespace)
        same = [p for p in existing if p.metadata.name == _name(doc) and p.metadata.namespace == pns]
        if same:  # a corrected version of a policy: it keeps selecting the same pods and keeps its rules
            old_spec, new_spec = spec_json(same[0].spec), doc.get("spec") or {}
            kept = old_spec.get("podSelector") == new_spec.get("podSelector") and all(
                len(new_spec.get(d) or []) >= len(old_spec.get(d) or []) for d in ("ingress", "egress")
            )
            if not kept and "corrected" not in text:
                out.append(
                    f"{f.check_id}: the suggested policy {_name(doc)} replaces the existing policy of that name"
                )
            continue
        sel = (doc.get("spec") or {}).get("podSelector") or {}
        for direction in (doc.get("spec") or {}).get("policyTypes") or []:
            d = direction.lower()
            newly = [
                p
                for p in data.pods_by_ns.get(pns, ())
                if all(_labels(p).get(k) == v for k, v in (sel.get("matchLabels") or {}).items())
                and not isolating_policies(existing, pns, _labels(p), d)
            ]
            if newly and "were not read, so check that every pod it selects is isolated" not in text:
                out.append(
                    f"{f.check_id}: the suggested policy {_name(doc)} newly isolates {len(newly)} pod(s) for "
                    f"{d} ({_name(newly[0])}): everything else they {'receive' if d == 'ingress' else 'send'} "
                    "would be dropped"
                )
    # a workload patch targets a workload the finding names
    named = f.message + " " + " ".join(f"{e.kind}/{e.name} {e.observed}" for e in f.evidence)
    for resource, name, _ in patches(text):
        if (
            resource in ("deployment", "statefulset", "daemonset", "replicaset")
            and name
            and name not in named
        ):
            out.append(f"{f.check_id}: the fix patches {resource}/{name}, which the finding does not name")
    # ports in kubectl expose: what clients dial or the workload declares, with the source said
    for m in re.finditer(r"kubectl[^\n]*\sexpose\s[^\n]*?--name=([\w.-]+)[^\n]*?--port=(\S+)([^\n]*)", text):
        svc, port, rest = m.group(1), m.group(2), m.group(3)
        dialled, declared = _evidenced_ports(snap, svc)
        if port.isdigit():
            if dialled and int(port) not in dialled:
                out.append(f"{f.check_id}: expose {svc} --port={port}, but clients dial {sorted(dialled)}")
            elif not dialled and int(port) not in declared:
                out.append(f"{f.check_id}: expose {svc} --port={port}: nobody dials or declares it")
        if "#" not in rest or "port" not in rest.split("#", 1)[1]:
            out.append(f"{f.check_id}: expose {svc} --port={port} does not say where the port came from")
    return out


def _evidenced_ports(snap: Snapshot, svc: str) -> tuple[set[int], set[int]]:
    """(ports clients dial on `svc`, container ports declared) read from the snapshot's objects."""
    dialled: set[int] = set()
    declared: set[int] = set()
    rx = re.compile(rf"(?<![\w.-]){re.escape(svc)}(?:\.[\w.-]+)?:(\d+)")
    for pod in snap.data.pods:
        for c in [*pod.spec.containers, *pod.spec.init_containers]:
            words = " ".join([*c.command, *c.args])
            words += " " + " ".join(e.value for e in c.env)
            dialled |= {int(x) for x in rx.findall(words)}
            env = {e.name: e.value for e in c.env}
            for key, value in env.items():  # DB_HOST=svc with DB_PORT=N
                prefix = re.sub(r"_?(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE)$", "", key)
                if value == svc and env.get(f"{prefix}_PORT", "").isdigit():
                    dialled.add(int(env[f"{prefix}_PORT"]))
            declared |= {p.container_port for p in c.ports}
    for ing in snap.data.ingresses:
        for r in ing.spec.rules:
            for p in r.http.paths:
                s = p.backend.service
                if s.name == svc and s.port.number:
                    dialled.add(s.port.number)
    for d in snap.data.deployments:
        for c in d.spec.template.spec.containers if d.spec.template.spec else []:
            declared |= {p.container_port for p in c.ports}
    return dialled, declared


def assert_safe(snap: Snapshot) -> None:
    report = diagnose(snap)
    problems = [v for f in report.findings for v in violations(snap, f)]
    assert not problems, "\n".join(problems + [f.remediation for f in report.findings])


# ---- every check fixture ----------------------------------------------------------------------------------
FIXTURE_FILES = sorted(FIXTURES.glob("KD[0-9]*/*.yaml"))


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_remediations_are_safe(path: Path) -> None:
    assert_safe(load_fixture(path).snapshot)


# ---- generated clusters: the known bad cases and their variations -----------------------------------------
NODE_COPIED = [
    {"topology.kubernetes.io/zone": "zone-a", "topology.kubernetes.io/region": "region-1"},
    {"topology.kubernetes.io/zone": "zone-b", "kubernetes.io/hostname": "node-b"},
    {"topology.k8s.io/rack": "r7"},
]
INSTANCE = [
    {"pod-template-hash": "5d8f9"},
    {
        "controller-revision-hash": "web-6b7c",
        "statefulset.kubernetes.io/pod-name": "client-0",
        "apps.kubernetes.io/pod-index": "0",
    },
    {"batch.kubernetes.io/job-name": "nightly", "batch.kubernetes.io/controller-uid": "u-1"},
]
IDENTITY = [
    {},
    {"app": "frontend"},
    {"app.kubernetes.io/name": "frontend", "app.kubernetes.io/component": "web"},
]


def pod(
    name: str, ns: str, labels: Mapping[str, str], port: int = 8080, owner: str = "", **spec: Any
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "labels": dict(labels)}
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True, "uid": "u"}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "nodeName": "node-a",
            "containers": [{"name": "c", "image": "i", "ports": [{"name": "http", "containerPort": port}]}],
            **spec,
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.244.0.{zlib.crc32(name.encode()) % 200 + 2}",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def service(
    name: str, ns: str, selector: Mapping[str, str], port: int = 80, target: int | str = "http"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": dict(selector), "ports": [{"name": "http", "port": port, "targetPort": target}]},
    }


def slice_for(svc: str, ns: str, pods: list[dict[str, Any]], port: int = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{svc}-abcde", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [p["status"]["podIP"]],
                "conditions": {"ready": True},
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": ns},
            }
            for p in pods
        ],
    }


def deny(ns: str, direction: str, selector: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"deny-{direction}", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)} if selector else {},
            "policyTypes": [direction.capitalize()],
        },
    }


def netpol_cases() -> Iterator[tuple[str, list[dict[str, Any]], str]]:
    for i, ident in enumerate(IDENTITY):
        for j, extra in enumerate(NODE_COPIED + INSTANCE):
            client_labels = {**ident, **extra}
            backends = [
                pod(
                    "web-1",
                    "shop",
                    {"app": "web", **NODE_COPIED[0], "pod-template-hash": "abc"},
                    owner="web-abc",
                )
            ]
            client = pod("client-1", "ops", client_labels)
            for direction in ("ingress", "egress"):
                objs: list[dict[str, Any]] = [
                    service("web", "shop", {"app": "web"}),
                    *backends,
                    slice_for("web", "shop", backends),
                    client,
                ]
                objs.append(deny("shop", "Ingress") if direction == "ingress" else deny("ops", "Egress"))
                yield f"{direction}-ident{i}-extra{j}", objs, "ops/client-1"


@pytest.mark.parametrize("case", list(netpol_cases()), ids=lambda c: c[0])
def test_networkpolicy_fix_never_selects_by_placement(case: tuple[str, list[dict[str, Any]], str]) -> None:
    _, objs, client = case
    snap = Snapshot("shop", "web", build_data(objs), ClientRef(*client.split("/", 1)))
    report = diagnose(snap)
    assert report.root_cause is not None and report.root_cause.category.value.startswith("network-policy")
    assert_safe(snap)
    for f in report.findings:  # no policy here names a placement label: message and evidence leave them out
        words = " ".join([f.message, f.remediation, *(f"{e.observed} {e.expected}" for e in f.evidence)])
        noise = sorted({w for w in re.findall(r"[\w./-]+(?==)", words) if PLACEMENT.match(w)})
        assert not noise, (noise, words)


def test_networkpolicy_fix_never_replaces_a_policy_of_the_same_name() -> None:
    """An unrelated policy already called allow-dns exists: the DNS fix must not overwrite it."""
    client = pod("client-1", "shop", {"app": "client"})
    objs = [
        service("web", "shop", {"app": "web"}),
        *(web := [pod("web-1", "shop", {"app": "web"})]),
        slice_for("web", "shop", web),
        client,
        deny("shop", "Egress"),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": "shop"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "batch"}},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}],
            },
        },
    ]
    snap = Snapshot("shop", "web", build_data(objs), ClientRef("shop", "client-1"))
    assert_safe(snap)
    dns = next(f for f in diagnose(snap).findings if f.check_id == "KD603")
    assert "name: allow-dns-2" in dns.remediation


def test_networkpolicy_fix_does_not_isolate_other_pods() -> None:
    """Only web-1 is isolated (policy selects tier=a); web-2 (tier=b, not ready: not judged) is not isolated. A
    new policy selecting every app=web pod would isolate web-2 and cut off everything else it receives."""
    web1 = pod("web-1", "shop", {"app": "web", "tier": "a"})
    objs = [
        service("web", "shop", {"app": "web"}),
        web1,
        slice_for("web", "shop", [web1]),
        {
            **pod("web-2", "shop", {"app": "web", "tier": "b"}),
            "status": {"phase": "Running", "podIP": "10.244.0.99"},
        },
        pod("client-1", "ops", {"app": "client"}),
        deny("shop", "Ingress", {"tier": "a"}),
    ]
    assert_safe(Snapshot("shop", "web", build_data(objs), ClientRef("ops", "client-1")))


def test_near_miss_never_repoints_at_another_services_pods() -> None:
    """Service backend-v1 wants version: v1; deployment/backend-v1's template lacks the label; the v2 pods
    belong to Service backend-v2. Repointing backend-v1 at version: v2 would steal backend-v2's traffic."""
    objs = [
        service("backend-v1", "default", {"app": "backend", "version": "v1"}),
        service("backend-v2", "default", {"app": "backend", "version": "v2"}),
        pod(
            "backend-v1-7c9d-aaaaa",
            "default",
            {"app": "backend", "pod-template-hash": "7c9d"},
            owner="backend-v1-7c9d",
        ),
        pod(
            "backend-v2-5f6a-bbbbb",
            "default",
            {"app": "backend", "version": "v2", "pod-template-hash": "5f6a"},
            owner="backend-v2-5f6a",
        ),
    ]
    assert_safe(Snapshot("default", "backend-v1", build_data(objs)))


@pytest.mark.parametrize(
    ("env", "dialled"),
    [
        ({"MONGO_URL": "mongodb://admin:pw@mongodb-rate:27017/rate"}, 27017),
        ({"DB_HOST": "mongodb-rate", "DB_PORT": "27018"}, 27018),
        ({"MONGO": "mongodb-rate.hotel.svc.cluster.local:27019"}, 27019),
        ({}, None),
    ],
)
def test_expose_uses_the_port_clients_dial(env: Mapping[str, str], dialled: int | None) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "mongodb-rate", "namespace": "hotel"},
        "spec": {
            "selector": {"matchLabels": {"io.kompose.service": "mongodb-rate"}},
            "template": {
                "metadata": {"labels": {"io.kompose.service": "mongodb-rate"}},
                "spec": {
                    "containers": [{"name": "mongo", "image": "mongo", "ports": [{"containerPort": 27017}]}]
                },
            },
        },
    }
    client = pod("rate-1", "hotel", {"io.kompose.service": "rate"}, port=8084)
    client["spec"]["containers"][0]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    snap = Snapshot("hotel", "mongodb-rate", build_data([deployment, client]))
    assert_safe(snap)
    fix = diagnose(snap).root_cause
    assert fix is not None and "--port=80 " not in fix.remediation
    assert f"--port={dialled or 27017}" in fix.remediation, fix.remediation


def test_overbroad_fix_never_adds_a_placement_label() -> None:
    """Two workloads share app=web; their pods run in different zones. The distinguishing label of the first
    workload is its own identity label, never the zone its pods happen to run in."""
    objs = [
        service("web", "shop", {"app": "web"}),
        pod(
            "web-7c9d-a",
            "shop",
            {"app": "web", "topology.kubernetes.io/zone": "zone-a", "pod-template-hash": "7c9d"},
            owner="web-7c9d",
        ),
        pod(
            "admin-5f6a-b",
            "shop",
            {"app": "web", "topology.kubernetes.io/zone": "zone-b", "pod-template-hash": "5f6a"},
            owner="admin-5f6a",
        ),
    ]
    assert_safe(Snapshot("shop", "web", build_data(objs)))


# ---- property: any mix of identity, placement and other labels on clients and backends ---------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PLACEMENT_POOL = {k: v for d in NODE_COPIED + INSTANCE for k, v in d.items()}
_IDENTITY_POOL = {"app": "client", "app.kubernetes.io/name": "client", "component": "ui", "k8s-app": "client"}
_OTHER_POOL = {"team": "analytics", "role": "reporter", "version": "v2", "tier": "front"}


def _subset(pool: Mapping[str, str]) -> st.SearchStrategy[dict[str, str]]:
    return st.sets(st.sampled_from(sorted(pool))).map(lambda keys: {k: pool[k] for k in keys})


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    client_labels=st.tuples(_subset(_IDENTITY_POOL), _subset(_PLACEMENT_POOL), _subset(_OTHER_POOL)),
    backend_extra=_subset(_PLACEMENT_POOL),
    direction=st.sampled_from(["ingress", "egress", "both"]),
    same_namespace=st.booleans(),
    open_sibling=st.booleans(),
)
def test_property_networkpolicy_fixes_are_safe(
    client_labels: tuple[dict[str, str], dict[str, str], dict[str, str]],
    backend_extra: dict[str, str],
    direction: str,
    same_namespace: bool,
    open_sibling: bool,
) -> None:
    cns = "shop" if same_namespace else "ops"
    labels = {k: v for part in client_labels for k, v in part.items()}
    backends = [pod("web-1", "shop", {"app": "web", **backend_extra}, owner="web-abc")]
    objs: list[dict[str, Any]] = [
        service("web", "shop", {"app": "web"}),
        *backends,
        slice_for("web", "shop", backends),
        pod("client-1", cns, {**labels, "isolated": "yes"}),
    ]
    if open_sibling:  # a pod with the client's other labels that nothing isolates
        objs.append(pod("sibling-1", cns, labels))
    if direction in ("ingress", "both"):
        objs.append(deny("shop", "Ingress", {"app": "web"}))
    if direction in ("egress", "both"):
        objs.append(deny(cns, "Egress", {"isolated": "yes"}))
    assert_safe(Snapshot("shop", "web", build_data(objs), ClientRef(cns, "client-1")))
