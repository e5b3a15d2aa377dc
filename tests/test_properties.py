"""Odd objects never crash the engine, and the JSON report stays valid against its schema (hypothesis).

The generated cluster data is what a real API server could return, at its edges, and a bit beyond: missing
and null fields (null statuses, no spec), empty and huge selectors, hundreds of ports, dual-stack and IPv6
addresses, pods without IPs, unicode and control characters in names, labels and event messages, owners of
every kind, unknown enum values, and kinds that could not be read (forbidden, errors). For every example:

- `diagnose` returns (no exception) and is deterministic;
- the report's JSON validates against kubediag/schemas/svc-report.schema.json and round-trips through json;
- Markdown and text rendering work, and no raw control character reaches the terminal text;
- the masked report is valid too;
- the missing-data rule holds: unreadable pods or Service never produce `selector-no-match`, and a gap in
  required data makes the status unknown unless a root cause was found before the gap.
"""

from __future__ import annotations

import io
import json
from typing import Any

import jsonschema
import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from kubediag.checks.base import ordered_checks
from kubediag.cli import FailOn, exit_code_for
from kubediag.engine import diagnose
from kubediag.kinds import from_builtin
from kubediag.mask import Masker
from kubediag.model import REQUIRED_KINDS, ExitCode, Kind, Outcome, Status, Unavailable
from kubediag.render.json import report_dict
from kubediag.render.markdown import report as to_markdown
from kubediag.render.text import report as render_text
from kubediag.schemas import load
from kubediag.snapshot import ClientRef, ClusterData, Snapshot

VALIDATOR = jsonschema.Draft202012Validator(load("svc-report"))  # built once: validate() rebuilds it
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
NS = "shop"
NAME = "web"

# ---- scalars ---------------------------------------------------------------------------------------------
odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=24
)  # unicode, control characters, bidi overrides, empty
name_st = st.sampled_from(["web", "web-1", "web-2", "db-0", "api", "x" * 63]) | odd_text
label_key = st.sampled_from(["app", "tier", "team", "app.kubernetes.io/name", "k8s-app"]) | odd_text
label_val = st.sampled_from(["web", "db", "frontend", "v1", ""]) | odd_text
labels_st = st.dictionaries(label_key, label_val, max_size=5)
huge_labels = st.integers(20, 150).map(lambda n: {f"key-{i}": f"value-{i}" for i in range(n)})
ip_st = st.ip_addresses(v=4).map(str) | st.ip_addresses(v=6).map(str)
bad_ip = st.sampled_from(["", "None", "not-an-ip", "999.1.1.1"])
port_num = st.sampled_from([80, 443, 8080, 53, 9090]) | st.integers(1, 65535) | st.integers(-5, 0)
port_name = st.sampled_from(["http", "https", "grpc", "dns", "metrics", ""]) | odd_text
protocol = st.sampled_from(["TCP", "UDP", "SCTP", "tcp", "QUIC"])
timestamp = st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-21T10:00:00Z", "not-a-time", ""])
status_word = st.sampled_from(["True", "False", "Unknown", ""])


def nullable(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def obj(required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A dict with `required` keys and any subset of `optional` ones; optional values may be null."""
    return st.fixed_dictionaries(
        {k: v for k, v in required.items()}, optional={k: nullable(v) for k, v in optional.items()}
    )


def metadata(namespaced: bool = True, name: st.SearchStrategy[str] = name_st) -> st.SearchStrategy[Any]:
    owner = obj(
        {"kind": st.sampled_from(["ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Node", "Weird"])},
        {"name": name_st, "controller": st.booleans(), "apiVersion": st.just("apps/v1")},
    )
    return obj(
        {"name": name, **({"namespace": st.sampled_from([NS, NS, NS, "other"])} if namespaced else {})},
        {
            "labels": labels_st | huge_labels,
            "annotations": st.dictionaries(odd_text, odd_text, max_size=3),
            "ownerReferences": st.lists(owner, max_size=2),
            "creationTimestamp": timestamp,
            "deletionTimestamp": timestamp,
            "finalizers": st.lists(odd_text, max_size=2),
        },
    )


def many_ports(target: bool) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Hundreds of ports, built in one draw (drawing them one by one is slow)."""

    def build(n: int, base: int, named: bool) -> list[dict[str, Any]]:
        if target:
            return [
                {"name": f"p{i}", "port": base + i, "targetPort": f"p{i}" if named else base + i}
                for i in range(n)
            ]
        return [{"name": f"p{i}", "containerPort": base + i} for i in range(n)]

    return st.builds(build, st.integers(100, 300), st.integers(1, 65000), st.booleans())


# ---- objects ---------------------------------------------------------------------------------------------
svc_port = obj(
    {},
    {
        "name": port_name,
        "port": port_num,
        "targetPort": port_num | port_name,
        "protocol": protocol,
        "nodePort": st.integers(30000, 32767),
        "appProtocol": odd_text,
    },
)
service_spec = obj(
    {},
    {
        "type": st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "Bogus"]),
        "selector": labels_st | huge_labels | st.just({}),
        "ports": st.lists(svc_port, max_size=6) | many_ports(True),
        "clusterIP": ip_st | st.just("None") | bad_ip,
        "clusterIPs": st.lists(ip_st | bad_ip, max_size=2),
        "ipFamilies": st.lists(st.sampled_from(["IPv4", "IPv6"]), max_size=2),
        "ipFamilyPolicy": st.sampled_from(["SingleStack", "PreferDualStack", "RequireDualStack"]),
        "externalName": st.sampled_from(["db.example.com", "-bad-", "a" * 300]) | odd_text,
        "externalTrafficPolicy": st.sampled_from(["Local", "Cluster", "Weird"]),
        "internalTrafficPolicy": st.sampled_from(["Local", "Cluster"]),
        "externalIPs": st.lists(ip_st, max_size=2),
        "publishNotReadyAddresses": st.booleans(),
        "loadBalancerClass": odd_text,
        "sessionAffinity": st.sampled_from(["None", "ClientIP"]),
    },
)
lb_status = obj(
    {},
    {
        "loadBalancer": obj(
            {}, {"ingress": st.lists(obj({}, {"ip": ip_st, "hostname": odd_text}), max_size=2)}
        )
    },
)
service_st = obj(
    {"kind": st.just("Service"), "metadata": metadata(name=st.just(NAME))},
    {"spec": service_spec, "status": lb_status},
)
other_service_st = obj(
    {
        "kind": st.just("Service"),
        "metadata": metadata(name=st.sampled_from(["other", "web-canary"]) | odd_text),
    },
    {"spec": service_spec, "status": lb_status},
)

probe = obj(
    {},
    {
        "httpGet": obj({}, {"port": port_num | port_name, "path": odd_text}),
        "tcpSocket": obj({}, {"port": port_num | port_name}),
    },
)
container_port = obj({"containerPort": port_num}, {"name": port_name, "protocol": protocol})
container = obj(
    {"name": name_st},
    {
        "image": odd_text,
        "ports": st.lists(container_port, max_size=4) | many_ports(False),
        "readinessProbe": probe,
        "startupProbe": probe,
        "env": st.lists(obj({"name": odd_text}, {"value": odd_text}), max_size=2),
        "command": st.lists(odd_text, max_size=2),
        "resources": obj({}, {"limits": st.dictionaries(st.sampled_from(["memory", "cpu"]), odd_text)}),
    },
)
pod_condition = obj(
    {"type": st.sampled_from(["Ready", "PodScheduled", "ContainersReady", "Initialized", "Other"])},
    {"status": status_word, "reason": odd_text | st.just("Unschedulable"), "message": odd_text},
)
container_state: st.SearchStrategy[dict[str, Any]] = (
    st.fixed_dictionaries(
        {
            "waiting": obj(
                {},
                {
                    "reason": st.sampled_from(
                        [
                            "CrashLoopBackOff",
                            "ImagePullBackOff",
                            "ErrImagePull",
                            "CreateContainerConfigError",
                            "ContainerCreating",
                        ]
                    )
                    | odd_text,
                    "message": odd_text,
                },
            )
        }
    )
    | st.fixed_dictionaries({"running": obj({}, {"startedAt": timestamp})})
    | st.fixed_dictionaries(
        {
            "terminated": obj(
                {}, {"exitCode": st.integers(-1, 255), "reason": odd_text, "finishedAt": timestamp}
            )
        }
    )
    | st.just({})
)
container_status = obj(
    {"name": name_st},
    {
        "ready": st.booleans(),
        "started": st.booleans(),
        "restartCount": st.integers(0, 10_000),
        "state": container_state,
        "lastState": container_state,
        "image": odd_text,
    },
)
pod_status = obj(
    {},
    {
        "phase": st.sampled_from(["Pending", "Running", "Succeeded", "Failed", "Unknown", "Weird"]),
        "podIP": ip_st | bad_ip,
        "podIPs": st.lists(obj({}, {"ip": ip_st}), max_size=2),
        "hostIP": ip_st,
        "conditions": st.lists(pod_condition, max_size=4),
        "containerStatuses": st.lists(container_status, max_size=3),
        "initContainerStatuses": st.lists(container_status, max_size=1),
        "reason": odd_text,
        "message": odd_text,
    },
)
toleration = obj({}, {"key": odd_text, "operator": st.sampled_from(["Exists", "Equal"]), "effect": odd_text})
pod_spec = obj(
    {},
    {
        "nodeName": st.sampled_from(["node-a", "node-b", "gone"]) | odd_text,
        "containers": st.lists(container, max_size=3),
        "initContainers": st.lists(container, max_size=1),
        "hostNetwork": st.booleans(),
        "nodeSelector": labels_st,
        "tolerations": st.lists(toleration, max_size=2),
        "subdomain": name_st,
        "hostname": name_st,
        "restartPolicy": st.sampled_from(["Always", "Never", "OnFailure"]),
        "enableServiceLinks": st.booleans(),
        "schedulingGates": st.lists(obj({"name": odd_text}, {}), max_size=1),
    },
)
pod_st = obj({"kind": st.just("Pod"), "metadata": metadata()}, {"spec": pod_spec, "status": pod_status})

endpoint = obj(
    {},
    {
        "addresses": st.lists(ip_st | bad_ip, max_size=2),
        "conditions": obj(
            {}, {"ready": st.booleans(), "serving": st.booleans(), "terminating": st.booleans()}
        ),
        "targetRef": obj(
            {}, {"kind": st.sampled_from(["Pod", "Node"]), "name": name_st, "namespace": st.just(NS)}
        ),
        "nodeName": odd_text,
        "zone": odd_text,
    },
)
slice_meta = (
    metadata().map(lambda m: {**m, "labels": {**(m.get("labels") or {}), "kubernetes.io/service-name": NAME}})
    | metadata()
)
slice_st = obj(
    {"kind": st.just("EndpointSlice"), "metadata": slice_meta},
    {
        "addressType": st.sampled_from(["IPv4", "IPv6", "FQDN"]),
        "endpoints": st.lists(endpoint, max_size=4),
        "ports": st.lists(obj({}, {"name": port_name, "port": port_num, "protocol": protocol}), max_size=3),
    },
)

node_st = obj(
    {
        "kind": st.just("Node"),
        "metadata": metadata(namespaced=False, name=st.sampled_from(["node-a", "node-b"])),
    },
    {
        "spec": obj({}, {"unschedulable": st.booleans(), "taints": st.lists(toleration, max_size=2)}),
        "status": obj(
            {},
            {
                "addresses": st.lists(
                    obj(
                        {},
                        {
                            "type": st.sampled_from(["InternalIP", "ExternalIP", "Hostname"]),
                            "address": ip_st | odd_text,
                        },
                    ),
                    max_size=3,
                ),
                "conditions": st.lists(obj({"type": st.just("Ready")}, {"status": status_word}), max_size=1),
            },
        ),
    },
)

expr = obj(
    {"key": label_key, "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "Bogus"])},
    {"values": st.lists(label_val, max_size=3)},
)
selector = obj({}, {"matchLabels": labels_st, "matchExpressions": st.lists(expr, max_size=2)})
peer = obj(
    {},
    {
        "podSelector": selector,
        "namespaceSelector": selector,
        "ipBlock": obj(
            {"cidr": st.sampled_from(["10.0.0.0/8", "0.0.0.0/0", "fd00::/8", "not-a-cidr", "10.244.0.5/32"])},
            {"except": st.lists(st.sampled_from(["10.1.0.0/16", "bad"]), max_size=2)},
        ),
    },
)
np_port = obj({}, {"port": port_num | port_name, "endPort": st.integers(0, 65535), "protocol": protocol})
np_rule_in = obj({}, {"from": st.lists(peer, max_size=2), "ports": st.lists(np_port, max_size=2)})
np_rule_out = obj({}, {"to": st.lists(peer, max_size=2), "ports": st.lists(np_port, max_size=2)})
netpol_st = obj(
    {"kind": st.just("NetworkPolicy"), "metadata": metadata()},
    {
        "spec": obj(
            {},
            {
                "podSelector": selector,
                "policyTypes": st.lists(st.sampled_from(["Ingress", "Egress", "Other"]), max_size=2),
                "ingress": st.lists(np_rule_in, max_size=2),
                "egress": st.lists(np_rule_out, max_size=2),
            },
        )
    },
)

backend = obj(
    {},
    {
        "service": obj(
            {},
            {
                "name": st.sampled_from([NAME, "other"]) | odd_text,
                "port": obj({}, {"number": port_num, "name": port_name}),
            },
        )
    },
)
ingress_st = obj(
    {"kind": st.just("Ingress"), "metadata": metadata()},
    {
        "spec": obj(
            {},
            {
                "defaultBackend": backend,
                "rules": st.lists(
                    obj(
                        {},
                        {
                            "host": odd_text,
                            "http": obj(
                                {},
                                {
                                    "paths": st.lists(
                                        obj({}, {"path": odd_text, "pathType": odd_text, "backend": backend}),
                                        max_size=2,
                                    )
                                },
                            ),
                        },
                    ),
                    max_size=2,
                ),
            },
        )
    },
)

event_st = obj(
    {"kind": st.just("Event"), "metadata": metadata()},
    {
        "involvedObject": obj(
            {},
            {
                "kind": st.sampled_from(["Service", "Pod", "ReplicaSet", "StatefulSet"]),
                "name": st.sampled_from([NAME, "web-1"]),
                "namespace": st.just(NS),
            },
        ),
        "reason": st.sampled_from(["SyncLoadBalancerFailed", "EnsuringLoadBalancer", "FailedScheduling", "FailedCreate"])
        | odd_text,
        "message": odd_text | st.just("\x1b[2J\x1b]8;;http://evil\x07click\u202e"),
        "type": st.sampled_from(["Normal", "Warning"]),
        "count": st.integers(0, 10**6),
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "eventTime": timestamp,
        "series": obj({}, {"count": st.integers(0, 100), "lastObservedTime": timestamp}),
        "source": obj({}, {"component": odd_text}),
        "reportingController": odd_text,
    },
)

deployment_st = obj(
    {"kind": st.just("Deployment"), "metadata": metadata()},
    {
        "spec": obj(
            {},
            {
                "selector": selector,
                "template": obj({}, {"metadata": obj({}, {"labels": labels_st}), "spec": pod_spec}),
                "replicas": st.integers(0, 10),
            },
        )
    },
)



def _typed(kind: Kind) -> Any:
    """A raw fixture object as the gatherer holds it (its kind's Struct); None when it would not decode."""

    def convert(raw: dict[str, Any]) -> Any:
        try:
            return from_builtin(kind, raw)
        except msgspec.ValidationError:
            return None

    return convert


def _decodable(objs: list[Any]) -> tuple[Any, ...]:
    """The objects that decode (`_typed` gives None for the others: the gatherer could not read them either)."""
    return tuple(o for o in objs if o is not None)


def _typed_service(raw: dict[str, Any]) -> Any:
    """A raw Service as the gatherer holds it (null fields as absent ones); None when it would not decode."""
    return _typed(Kind.SERVICE)(_without_nulls(raw))


typed_deployment_st = deployment_st.map(_typed(Kind.DEPLOYMENT)).filter(lambda d: d is not None)


def _without_nulls(value: Any) -> Any:
    """Null fields dropped: the API's JSON never has null where absence is meant, and Go decodes a null
    optional field as unset."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


typed_slice_st = slice_st.map(_without_nulls).map(_typed(Kind.ENDPOINTSLICE)).filter(lambda s: s is not None)
typed_netpol_st = netpol_st.map(_without_nulls).map(_typed(Kind.NETWORKPOLICY)).filter(lambda p: p is not None)


def _typed_pod(raw: dict[str, Any]) -> Any:
    """A generated pod as the gatherer holds it (a Pod Struct). The API server omits empty pod fields rather
    than writing null (omitempty), so the generated nulls are read as absent fields: the odd values stay."""
    return from_builtin(Kind.POD, _without_nulls(raw))
statefulset_st = obj(
    {"kind": st.just("StatefulSet"), "metadata": metadata()},
    {
        "spec": obj(
            {},
            {
                "selector": selector,
                "template": obj({}, {"metadata": obj({}, {"labels": labels_st}), "spec": pod_spec}),
                "replicas": st.integers(0, 3),
            },
        )
    },
).map(_typed(Kind.STATEFULSET)).filter(lambda d: d is not None)

unavailable_st = st.dictionaries(
    st.sampled_from(list(Kind)),
    st.tuples(st.sampled_from(["forbidden", "error"]), odd_text),
    max_size=3,
)


# ---- coherent clusters: most examples reach deep into the chain ------------------------------------------
# Realistic objects over a small label space (so selectors match pods often), mixed with the odd ones above.
small_labels = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["web", "db"]), min_size=1)
real_container_port: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"name": "http", "containerPort": 8080},
        {"name": "https", "containerPort": 8443, "protocol": "TCP"},
        {"containerPort": 80},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
    ]
)


@st.composite
def real_pod(draw: st.DrawFn, index: int, selector: dict[str, str]) -> dict[str, Any]:
    labels = {**draw(small_labels), **draw(st.dictionaries(label_key, label_val, max_size=1))}
    if draw(st.integers(0, 3)) > 0:
        labels.update(selector)  # mostly selected by the target Service
    ready = draw(st.integers(0, 3)) > 0
    ip = draw(st.none() | ip_st)
    scheduled = draw(st.sampled_from([True, True, True, False]))
    meta: dict[str, Any] = {
        "name": f"web-{index}",
        "namespace": draw(st.sampled_from([NS, NS, NS, NS, NS, "other"])),
        "labels": labels,
        "creationTimestamp": draw(timestamp),
    }
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["ReplicaSet", "StatefulSet", "DaemonSet", "Job"]))
        meta["ownerReferences"] = [{"kind": kind, "name": f"web-{kind.lower()}", "controller": True}]
    if draw(st.integers(0, 19)) == 0:
        meta["deletionTimestamp"] = "2026-11-21T10:00:00Z"
    container: dict[str, Any] = {
        "name": "c",
        "image": draw(st.sampled_from(["nginx:1.27", "registry.example/app:missing", ""])),
        "ports": draw(st.lists(real_container_port, max_size=3, unique_by=lambda p: p["containerPort"])),
    }
    if draw(st.booleans()):
        container["readinessProbe"] = {
            "httpGet": {"port": draw(st.sampled_from([8080, "http", 9999])), "path": "/"}
        }
    status: dict[str, Any] = {
        "phase": draw(st.sampled_from(["Running", "Running", "Running", "Running", "Pending", "Failed"])),
        "conditions": [
            {"type": "PodScheduled", "status": "True" if scheduled else "False",
             **({} if scheduled else {"reason": "Unschedulable", "message": "0/3 nodes are available"})},
            {"type": "Ready", "status": "True" if ready else "False"},
        ],
        "containerStatuses": [
            {"name": "c", "ready": ready, "restartCount": draw(st.integers(0, 50)), "state": draw(container_state)}
        ],
    }  # fmt: skip
    if ip is not None:
        status["podIP"] = ip
        if draw(st.booleans()):
            status["podIPs"] = [{"ip": ip}, {"ip": draw(st.ip_addresses(v=6).map(str))}]  # dual-stack
    spec: dict[str, Any] = {"containers": [container]}
    if scheduled:
        spec["nodeName"] = draw(st.sampled_from(["node-a", "node-b"]))
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": status}


@st.composite
def real_service(draw: st.DrawFn) -> dict[str, Any]:
    spec = {k: v for k, v in draw(service_spec).items() if draw(st.integers(0, 3)) == 0}  # a few odd fields
    spec["type"] = draw(st.sampled_from(["ClusterIP", "ClusterIP", "ClusterIP", "NodePort", "LoadBalancer"]))
    spec["selector"] = draw(st.sampled_from(["small"] * 8 + ["huge", "empty"]).flatmap(
        lambda k: {"small": small_labels, "huge": huge_labels, "empty": st.just({})}[k]
    ))  # fmt: skip
    real_ports = st.lists(
        st.fixed_dictionaries(
            {"port": st.sampled_from([80, 443, 53]), "targetPort": st.sampled_from([8080, "http", 80, "dns", 1234])},
            optional={"name": st.sampled_from(["http", "dns"]), "protocol": st.sampled_from(["TCP", "UDP"]),
                      "nodePort": st.integers(30000, 32767)},
        ),
        min_size=1, max_size=3,
    )  # fmt: skip
    spec["ports"] = draw(real_ports | real_ports | many_ports(True))
    spec.setdefault("clusterIP", draw(ip_st | st.just("None")))
    meta = {"name": NAME, "namespace": NS, "creationTimestamp": "2026-01-01T00:00:00Z"}
    return {"kind": "Service", "metadata": meta, "spec": spec}


def real_slice(pods: list[dict[str, Any]], ready_flip: bool) -> dict[str, Any]:
    endpoints = []
    for p in pods:
        ip = (p.get("status") or {}).get("podIP")
        if not ip or (p.get("metadata") or {}).get("namespace") != NS:
            continue
        conditions = (p.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        endpoints.append(
            {
                "addresses": [ip],
                "conditions": {"ready": ready != ready_flip},
                "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": NS},
            }
        )
    return {
        "kind": "EndpointSlice",
        "metadata": {"name": f"{NAME}-abc", "namespace": NS, "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


@st.composite
def cluster_data(draw: st.DrawFn) -> ClusterData:
    roll = draw(st.integers(0, 9))  # 80% a realistic target Service, 10% an odd one, 10% none
    services = [draw(real_service())] if roll < 8 else [draw(service_st)] if roll == 8 else []
    spec = (services[0].get("spec") or {}) if services else {}
    selector: dict[str, str] = spec["selector"] if isinstance(spec.get("selector"), dict) else {}
    n_real = draw(st.sampled_from([0, 1, 2, 2, 3, 4, 5]))
    pods = [draw(real_pod(i, selector)) for i in range(n_real)] + draw(st.lists(pod_st, max_size=2))
    services += draw(st.lists(other_service_st, max_size=1))
    slices = []
    if draw(st.booleans()):
        slices.append(from_builtin(Kind.ENDPOINTSLICE, real_slice(pods, draw(st.booleans()))))
    slices += draw(st.lists(typed_slice_st, max_size=2))
    lists: dict[str, tuple[Any, ...]] = {
        "services": tuple(t for s in services if (t := _typed_service(s)) is not None),
        "endpointslices": tuple(slices),
        "pods": tuple(map(_typed_pod, pods)),
        "nodes": _decodable(draw(st.lists(node_st.map(_typed(Kind.NODE)), max_size=2))),
        "networkpolicies": tuple(draw(st.lists(typed_netpol_st, max_size=3))),
        "namespaces": _decodable(
            draw(
                st.lists(
                    st.fixed_dictionaries({"kind": st.just("Namespace"), "metadata": metadata(False)}).map(
                        _typed(Kind.NAMESPACE)
                    ),
                    max_size=2,
                )
            )
        ),
        "events": _decodable(draw(st.lists(event_st.map(_typed(Kind.EVENT)), max_size=3))),
        "ingresses": _decodable(draw(st.lists(ingress_st.map(_typed(Kind.INGRESS)), max_size=2))),
        "deployments": tuple(draw(st.lists(typed_deployment_st, max_size=2))),
        "statefulsets": tuple(draw(st.lists(statefulset_st, max_size=1))),
    }
    missing = {
        kind: Unavailable(kind, reason, detail or "x")
        for kind, (reason, detail) in draw(st.just({}) | st.just({}) | unavailable_st).items()
    }
    not_read = set(draw(st.lists(st.sampled_from([Kind.NODE, Kind.NAMESPACE, Kind.DEPLOYMENT]), max_size=2)))
    for kind in [*missing, *not_read]:
        lists[kind.value] = ()  # a kind not read has no objects
    return ClusterData(
        objects={Kind(k): v for k, v in lists.items()},
        read=frozenset(Kind) - frozenset(missing) - frozenset(not_read),
        unavailable=missing,
        lookalike_services=tuple(
            t for s in draw(st.lists(service_st, max_size=2)) if (t := _typed_service(s)) is not None
        ),
        missing_namespaces=frozenset(draw(st.lists(st.sampled_from([NS, "other"]), max_size=1))),
        foreign_matches=tuple(map(_typed_pod, draw(st.lists(pod_st, max_size=1)))),
        server="https://127.0.0.1:6443",
    )


client_st = st.none() | st.builds(
    ClientRef, st.sampled_from([NS, "other"]), st.sampled_from(["web-0", "web-1"]) | name_st
)


def _control_chars(text: str) -> set[str]:
    return {
        c
        for c in text
        if (ord(c) < 32 and c not in "\n\t")
        or 0x7F <= ord(c) <= 0x9F
        or 0x202A <= ord(c) <= 0x202E
        or 0x2066 <= ord(c) <= 0x2069
    }


@SETTINGS
@given(data=cluster_data(), client=client_st)
def test_engine_never_crashes_and_the_report_is_valid(data: ClusterData, client: ClientRef | None) -> None:
    snap = Snapshot(NS, NAME, data, client)
    report = diagnose(snap)
    doc = report_dict(report)
    VALIDATOR.validate(doc)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON, nothing that does not serialise
    # pure: the same snapshot gives the same report
    assert report_dict(diagnose(Snapshot(NS, NAME, data, client))) == doc
    # every check of the chain appears once, in order
    assert [r.check_id for r in report.results] == [c.id for c in ordered_checks()]

    # renderers: no crash, and no raw control character reaches a terminal
    for verbose in (False, True):
        buf = io.StringIO()
        render_text(report, Console(file=buf, width=120, color_system=None, force_terminal=False), verbose)
        assert not _control_chars(buf.getvalue())
        assert not _control_chars(to_markdown(report, verbose))

    # --mask keeps the report valid
    VALIDATOR.validate(report_dict(Masker.from_data(data).report(report)))

    # the missing-data rule
    categories = {f["category"] for f in doc["findings"]}
    if Kind.POD in data.unavailable or Kind.SERVICE in data.unavailable:
        assert "selector-no-match" not in categories
    if Kind.SERVICE in data.unavailable:
        assert "service-not-found" not in categories
        assert report.status is Status.UNKNOWN
    gaps = {k for k in REQUIRED_KINDS if k in data.unavailable}
    if gaps and report.status is not Status.UNKNOWN:
        # a known status despite a gap: only when the root cause was found before the first check that
        # lacked the data (e.g. a missing Service, an invalid ExternalName)
        needs = {c.id: c.needs for c in ordered_checks()}
        order = [r.check_id for r in report.results]
        gap_skips = [
            order.index(r.check_id)
            for r in report.results
            if r.outcome is Outcome.SKIPPED and needs[r.check_id] & gaps
        ]
        assert report.root_cause is not None
        assert not gap_skips or order.index(report.root_cause.check_id) < min(gap_skips)
    code = exit_code_for(report.status, report.worst, FailOn.critical)
    assert (code is ExitCode.UNKNOWN) == (report.status is Status.UNKNOWN)


# ---- hostile object text in the terminal and in Markdown -------------------------------------------------
HOSTILE = "\x1b[31mRED\x1b]8;;http://evil\x07link\u202eevil[bold]x[/bold]\r\x08"


def _hostile_report(text: str) -> Any:
    """`text` as an event message (quoted by a note and a warning), a pod name (in the near-miss message),
    a label value, and the detail of a kind that could not be read (the "Incomplete" line)."""
    service = {
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"type": "LoadBalancer", "selector": {"app": "front-end"}, "clusterIP": "10.96.0.10",
                 "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}]},
    }  # fmt: skip
    pod = {
        "kind": "Pod",
        "metadata": {"name": f"pod-{text}", "namespace": NS, "labels": {"app": "frontend", "note": text}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.1",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }
    event = {
        "kind": "Event",
        "metadata": {"name": "e1", "namespace": NS},
        "involvedObject": {"kind": "Service", "name": NAME, "namespace": NS},
        "reason": "SyncLoadBalancerFailed",
        "message": f"Error syncing load balancer: {text}",
        "type": "Warning",
        "count": 3,
        "lastTimestamp": "2026-11-21T10:00:00Z",
    }
    data = ClusterData(
        objects={
            Kind.SERVICE: (from_builtin(Kind.SERVICE, service),),
            Kind.POD: (from_builtin(Kind.POD, pod),),
            Kind.EVENT: (from_builtin(Kind.EVENT, event),),
        },
        read=frozenset(Kind) - {Kind.INGRESS},
        unavailable={Kind.INGRESS: Unavailable(Kind.INGRESS, "error", f"odd: {text}")},
    )
    return diagnose(Snapshot(NS, NAME, data))


def _render(report: Any) -> str:
    """The short report and the full checklist (-v), one after the other."""
    buf = io.StringIO()
    for verbose in (False, True):
        render_text(report, Console(file=buf, width=400, force_terminal=True, color_system="truecolor"), verbose)
    return buf.getvalue()


def test_hostile_text_is_shown_escaped_never_interpreted() -> None:
    report = _hostile_report(HOSTILE)
    places = {
        "event message in a finding": any("Error syncing" in f.message for f in report.findings),
        "pod name in the root cause": report.root_cause is not None
        and "pod-\x1b" in report.root_cause.message,
        "incomplete line": bool(report.errors),
    }
    assert all(places.values()), places
    text = _render(report)
    # rich styles the output (so ESC appears for colours), but never ours: no OSC 8 link, no BEL, no bidi
    assert "\x1b]8;;http://evil" not in text and "\x07" not in text and "\u202e" not in text
    assert "\x1b[31mRED" not in text and "\r" not in text and "\x08" not in text
    assert text.count("\\x1b[31mRED") >= 3  # event message (note + warning), pod name, incomplete line
    assert "[bold]x[/bold]" in text  # printed literally, not read as markup
    md = to_markdown(report)
    assert not _control_chars(md) and "\\x1b]8;;http://evil\\x07" in md
    notes = [f for f in report.findings if f.severity.value == "info"]
    assert any("\x1b" in f.message for f in notes), "a note quotes the event message too"


@settings(max_examples=60, deadline=None)
@given(text=odd_text)
def test_any_object_text_renders_without_control_characters(text: str) -> None:
    report = _hostile_report(text)
    assert not _control_chars(_render(report).replace("\x1b[", "CSI"))  # rich's own styling aside
    assert not _control_chars(to_markdown(report))
    VALIDATOR.validate(report_dict(report))
