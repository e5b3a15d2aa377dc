"""The seeded cluster without a cluster: a ClusterData built in-process from bench/seed.py's plan.

`synthetic_data(plan)` holds the same objects `seed()` would create, plus what the control plane adds to them
on the local KWOK cluster, so the diagnosis stage can be timed (and compared before/after a change) offline:

  - the API server's defaults and allocations: uids, ClusterIPs, node ports, Service/pod spec defaults;
  - kwok's pod stages (e2e/kwok/stages.yaml): pods bound to a node become Running and Ready with a pod IP from
    their node's podCIDR and the node's InternalIP as hostIP; `kubediag.io/simulate=not-ready` pods are Running
    but not Ready, `crashloop` pods wait in CrashLoopBackOff (restartCount 4); kwok's node stages make the
    nodes Ready, and the node controller taints the cordoned ones;
  - the scheduler: pods with a nodeSelector no node has stay Pending with PodScheduled=False/Unschedulable and
    one FailedScheduling Warning event each;
  - the EndpointSlice controller: one slice per Service with a selector (placeholder `endpoints: null` when no
    pod matches), an endpoint per matching pod that has an IP (ready/serving per the pod's Ready condition,
    zone from the node), ports resolved per pod (a named targetPort no container has drops that port:
    `ports: null`), the Service's labels plus the controller's;
  - what the cluster had before the bench: namespaces default/kube-system/kube-public/kube-node-lease, Service
    default/kubernetes (selectorless, its slice written by the API server) and kube-system/kube-dns with two
    CoreDNS pods.

Every kind is serialised to a LIST body and decoded with `kubediag.kinds.decode_list`, the gatherer's own
decoder, so typed kinds come out as their Structs exactly as from a live `audit`.

`variety=True` (with `seed`) adds policies, selectors and namespace labels the plan does not have (default-deny,
matchExpressions, namespaceSelectors, egress-only policies without policyTypes, named and ranged ports, ipBlocks,
policies shared by several Services, unready and terminating pods) and shuffles the object order: for comparing
reports before and after an optimisation on more shapes than the benchmark's; not for timing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import random
from collections import defaultdict
from typing import Any

import msgspec
from seed import (
    BENCH_LABEL,
    Plan,
    SvcPlan,
    kwok_running_status,
    namespace_obj,
    node_obj,
)

NOW = "2026-01-01T00:00:00Z"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return msgspec.json.decode(msgspec.json.encode(obj))  # type: ignore[no-any-return]


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _cond(ctype: str, status: str, reason: str = "", message: str = "") -> dict[str, Any]:
    c: dict[str, Any] = {"lastProbeTime": None, "lastTransitionTime": NOW, "status": status, "type": ctype}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


# ---- nodes ----------------------------------------------------------------------------------------------
def _node(i: int) -> dict[str, Any]:
    n = node_obj(i)
    name = n["metadata"]["name"]
    n["metadata"].update(uid=_uid("node", name), creationTimestamp=NOW)
    # cordoned: the node lifecycle controller adds the unschedulable taint
    n["spec"]["taints"] = [
        {"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable", "timeAdded": NOW}
    ]
    n["status"].update(
        conditions=[
            _cond("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            _cond("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            _cond("PIDPressure", "False", "KubeletHasSufficientPID"),
            _cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        daemonEndpoints={"kubeletEndpoint": {"Port": 10250}},
        nodeInfo={
            "architecture": "amd64",
            "bootID": "",
            "containerRuntimeVersion": "kwok-v0.8.0",
            "kernelVersion": "kwok-v0.8.0",
            "kubeProxyVersion": "kwok-v0.8.0",
            "kubeletVersion": "kwok-v0.8.0",
            "machineID": "",
            "operatingSystem": "linux",
            "osImage": "",
            "systemUUID": "",
        },
        phase="Running",
    )
    return n


class _IPs:
    """kwok's PodIPsWith: the next free address of the node's podCIDR."""

    def __init__(self, nodes: list[dict[str, Any]]) -> None:
        self._next = {
            n["metadata"]["name"]: ipaddress.ip_network(n["spec"]["podCIDR"]).hosts()
            for n in nodes
            if n["spec"].get("podCIDR")
        }
        self.host = {
            n["metadata"]["name"]: next(
                a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP"
            )
            for n in nodes
        }
        self.zone = {
            n["metadata"]["name"]: n["metadata"]["labels"].get("topology.kubernetes.io/zone", "")
            for n in nodes
        }

    def pod_ip(self, node: str) -> str:
        return str(next(self._next[node]))


# ---- pods -----------------------------------------------------------------------------------------------
def _pod_defaults(pod: dict[str, Any]) -> None:
    md, spec = pod["metadata"], pod["spec"]
    md.update(uid=_uid("pod", md["namespace"], md["name"]), creationTimestamp=NOW, generation=1)
    token = f"kube-api-access-{md['uid'][:5]}"
    for c in spec["containers"]:
        c.setdefault("imagePullPolicy", "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        probe = c.get("readinessProbe")
        if probe:
            probe.setdefault("failureThreshold", 3)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("timeoutSeconds", 1)
            if "httpGet" in probe:
                probe["httpGet"].setdefault("scheme", "HTTP")
        c["volumeMounts"] = [
            {"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": token, "readOnly": True}
        ]
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccount", "default")
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec["tolerations"] = [
        {"effect": "NoExecute", "key": k, "operator": "Exists", "tolerationSeconds": 300}
        for k in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
    ]
    spec["volumes"] = [
        {
            "name": token,
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {
                        "configMap": {
                            "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            "name": "kube-root-ca.crt",
                        }
                    },
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    "path": "namespace",
                                }
                            ]
                        }
                    },
                ],
            },
        }
    ]


def _pod_status(pod: dict[str, Any], ips: _IPs, n_nodes: int) -> None:
    """What kwok's stages (or the scheduler, for unschedulable pods) write."""
    spec = pod["spec"]
    node = spec.get("nodeName")
    qos = (
        "Burstable"
        if any(c.get("resources", {}).get("requests") for c in spec["containers"])
        else "BestEffort"
    )
    if not node:  # nodeSelector no node has: the scheduler leaves it Pending
        msg = (
            f"0/{n_nodes} nodes are available: {n_nodes} node(s) didn't match Pod's node affinity/selector. "
            f"no new claims to deallocate, preemption: 0/{n_nodes} nodes are available: {n_nodes} Preemption "
            "is not helpful for scheduling."
        )
        pod["status"] = {
            "conditions": [{**_cond("PodScheduled", "False", "Unschedulable", msg), "observedGeneration": 1}],
            "phase": "Pending",
            "qosClass": qos,
        }
        return
    ip = ips.pod_ip(node)
    pod["status"] = kwok_running_status(pod, ips.host[node], NOW)
    pod["status"].update(podIP=ip, podIPs=[{"ip": ip}], qosClass=qos)


# ---- Services and their EndpointSlices ------------------------------------------------------------------
def _service_defaults(svc: dict[str, Any], index: int) -> None:
    md, spec = svc["metadata"], svc["spec"]
    md.update(uid=_uid("svc", md["namespace"], md["name"]), creationTimestamp=NOW)
    stype = spec.setdefault("type", "ClusterIP")
    if spec.get("clusterIP") != "None":
        ip = str(SERVICE_CIDR[1000 + index])
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
    else:
        spec["clusterIPs"] = ["None"]
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("sessionAffinity", "None")
    for j, p in enumerate(spec["ports"]):
        p.setdefault("protocol", "TCP")
        p.setdefault("targetPort", p["port"])
        if stype in ("NodePort", "LoadBalancer"):
            p.setdefault("nodePort", 30000 + (index * 3 + j) % 2767)
    if stype in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if stype == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    svc["status"] = {"loadBalancer": {}}


def _find_port(pod: dict[str, Any], target: Any, protocol: str) -> int | None:
    """podutil.FindPort: a number as is, a name looked up in the containers' ports (name and protocol)."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return int(p["containerPort"])
    return None


def _slices(svc: dict[str, Any], pods: list[dict[str, Any]], ips: _IPs) -> list[dict[str, Any]]:
    """The EndpointSlice controller's slices for one Service with a selector (max 100 endpoints each)."""
    md, spec = svc["metadata"], svc["spec"]
    selector = spec.get("selector") or {}
    if not selector:
        return []
    by_ports: dict[str, tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]] = {}
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            continue
        status = pod.get("status") or {}
        if not status.get("podIP") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        ports = []
        for sp in spec["ports"]:
            num = _find_port(pod, sp.get("targetPort", sp["port"]), sp.get("protocol", "TCP"))
            if num is not None:
                ports.append({"name": sp.get("name", ""), "port": num, "protocol": sp.get("protocol", "TCP")})
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or [])
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        node = pod["spec"].get("nodeName", "")
        ep: dict[str, Any] = {
            "addresses": [status["podIP"]],
            "conditions": {"ready": ready and not terminating, "serving": ready, "terminating": terminating},
            "nodeName": node,
            "targetRef": {
                "kind": "Pod",
                "name": pod["metadata"]["name"],
                "namespace": pod["metadata"]["namespace"],
                "uid": pod["metadata"]["uid"],
            },
        }
        if ips.zone.get(node):
            ep["zone"] = ips.zone[node]
        key = json.dumps(ports, sort_keys=True)
        by_ports.setdefault(key, (ports or None, []))[1].append(ep)
    labels = {
        **(md.get("labels") or {}),
        MANAGED_BY: "endpointslice-controller.k8s.io",
        SERVICE_NAME_LABEL: md["name"],
    }
    if spec.get("clusterIP") == "None":
        labels["service.kubernetes.io/headless"] = ""
    groups: list[tuple[list[dict[str, Any]] | None, list[dict[str, Any]] | None]] = []
    for ports, eps in by_ports.values():
        groups += [(ports, eps[i : i + 100]) for i in range(0, len(eps), 100)]
    if not groups:
        groups = [(None, None)]  # the placeholder slice
    out = []
    for i, (ports, eps) in enumerate(groups):
        name = f"{md['name']}-{_uid('slice', md['namespace'], md['name'], str(i))[:5]}"
        out.append(
            {
                "addressType": "IPv4",
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "endpoints": eps,
                "metadata": {
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": NOW},
                    "creationTimestamp": NOW,
                    "generateName": f"{md['name']}-",
                    "generation": 1,
                    "labels": labels,
                    "name": name,
                    "namespace": md["namespace"],
                    "ownerReferences": [
                        {
                            "apiVersion": "v1",
                            "blockOwnerDeletion": True,
                            "controller": True,
                            "kind": "Service",
                            "name": md["name"],
                            "uid": md["uid"],
                        }
                    ],
                    "uid": _uid("slice", md["namespace"], name),
                },
                "ports": ports,
            }
        )
    return out


def _scheduling_event(pod: dict[str, Any]) -> dict[str, Any]:
    md = pod["metadata"]
    return {
        "action": "Scheduling",
        "apiVersion": "v1",
        "kind": "Event",
        "eventTime": NOW,
        "firstTimestamp": None,
        "lastTimestamp": None,
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": md["name"],
            "namespace": md["namespace"],
            "uid": md["uid"],
        },
        "message": pod["status"]["conditions"][0]["message"],
        "metadata": {
            "creationTimestamp": NOW,
            "name": f"{md['name']}.{md['uid'][:16]}",
            "namespace": md["namespace"],
            "uid": _uid("event", md["namespace"], md["name"]),
        },
        "reason": "FailedScheduling",
        "reportingComponent": "default-scheduler",
        "reportingInstance": "default-scheduler-vm",
        "source": {},
        "type": "Warning",
    }


# ---- what the cluster had before the bench --------------------------------------------------------------
def _system_objects(first_node: str) -> dict[str, list[dict[str, Any]]]:
    dns_pods = []
    for i in range(2):
        name = f"coredns-55c64f5f98-{'abcde'[i] * 5}"
        pod: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "pod-template-hash": "55c64f5f98"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "blockOwnerDeletion": True,
                        "controller": True,
                        "kind": "ReplicaSet",
                        "name": "coredns-55c64f5f98",
                        "uid": _uid("rs", "coredns"),
                    }
                ],
            },
            "spec": {
                "containers": [
                    {
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "image": "registry.k8s.io/coredns/coredns:v1.12.1",
                        "name": "coredns",
                        "ports": [
                            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
                            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                            {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
                        ],
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}, "periodSeconds": 10},
                    }
                ],
                "nodeName": first_node,
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "priority": 2000000000,
                "priorityClassName": "system-cluster-critical",
                "serviceAccountName": "coredns",
                "serviceAccount": "coredns",
            },
        }
        dns_pods.append(pod)
    services = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {"ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "labels": {
                    "k8s-app": "kube-dns",
                    "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "CoreDNS",
                },
            },
            "spec": {
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
                "selector": {"k8s-app": "kube-dns"},
            },
        },
    ]
    namespaces = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}
        for n in ("default", "kube-node-lease", "kube-public", "kube-system")
    ]
    return {"pods": dns_pods, "services": services, "namespaces": namespaces}


def _kubernetes_slice(svc: dict[str, Any]) -> dict[str, Any]:
    """default/kubernetes: selectorless, its slice is written by the API server itself."""
    return {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "endpoints": [{"addresses": ["172.18.0.2"], "conditions": {"ready": True}}],
        "metadata": {
            "creationTimestamp": NOW,
            "generation": 1,
            "labels": {SERVICE_NAME_LABEL: "kubernetes"},
            "name": "kubernetes",
            "namespace": "default",
            "uid": _uid("slice", "default", "kubernetes"),
        },
        "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}],
    }


# ---- NetworkPolicies as the API server returns them ---------------------------------------------------
def _ordered(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: obj[k] for k in keys if k in obj} | {k: v for k, v in obj.items() if k not in keys}


def _selector_wire(sel: dict[str, Any]) -> dict[str, Any]:
    out = _ordered(sel, ("matchLabels", "matchExpressions"))
    if "matchExpressions" in out:
        out["matchExpressions"] = [
            _ordered(e, ("key", "operator", "values")) for e in out["matchExpressions"]
        ]
    return out


def _netpol_wire_form(pol: dict[str, Any]) -> None:
    """A policy as written (by the plan or the variety shapes) in the form a LIST returns it: the API's field
    order, `protocol` defaulted to TCP on every port, empty lists omitted. `policyTypes` stays as written
    (the API server would default it) so that the comparison keeps the egress-only shape without
    policyTypes."""
    spec = pol["spec"]
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        rules = []
        for rule in spec.get(direction) or []:
            out: dict[str, Any] = {}
            if rule.get("ports"):
                out["ports"] = [
                    _ordered({"protocol": "TCP", **p}, ("protocol", "port", "endPort")) for p in rule["ports"]
                ]
            if rule.get(peers):
                out[peers] = []
                for elem in rule[peers]:
                    elem = _ordered(elem, ("podSelector", "namespaceSelector", "ipBlock"))
                    for key in ("podSelector", "namespaceSelector"):
                        if key in elem:
                            elem[key] = _selector_wire(elem[key])
                    if "ipBlock" in elem:
                        elem["ipBlock"] = _ordered(elem["ipBlock"], ("cidr", "except"))
                    out[peers].append(elem)
            rules.append(out)
        if rules:
            spec[direction] = rules
        else:
            spec.pop(direction, None)
    spec["podSelector"] = _selector_wire(spec.get("podSelector") or {})
    pol["spec"] = _ordered(spec, ("podSelector", "ingress", "egress", "policyTypes"))


# ---- variety: shapes the plan does not have, for report comparisons ------------------------------------
def _variety(
    rng: random.Random, plan: Plan, objs: dict[str, list[dict[str, Any]]], namespaces: list[dict[str, Any]]
) -> None:
    """Extra policies, namespace labels and pod states, chosen by `rng` (mutates `objs` and `namespaces`)."""
    for ns in namespaces:
        if ns["metadata"]["name"].startswith("bench-") and rng.random() < 0.5:
            ns["metadata"]["labels"]["team"] = rng.choice(["a", "b", "c"])
            if rng.random() < 0.3:
                ns["metadata"]["labels"]["env"] = rng.choice(["prod", "dev"])
    by_ns: dict[str, list[SvcPlan]] = defaultdict(list)
    for s in plan.services:
        by_ns[s.namespace].append(s)
    for ns, svcs in by_ns.items():
        for k in range(rng.randint(0, 4)):
            s = rng.choice(svcs)
            shape = rng.randrange(12)
            name = f"var-{k}-{s.name}"
            spec: dict[str, Any]
            if shape == 0:  # default-deny the namespace
                spec = {"podSelector": {}, "policyTypes": ["Ingress"]}
            elif shape == 1:  # allow from a team namespace by tier
                spec = {
                    "podSelector": {"matchLabels": {"tier": rng.choice(["frontend", "backend"])}},
                    "ingress": [
                        {
                            "from": [
                                {"namespaceSelector": {"matchLabels": {"team": rng.choice(["a", "b", "c"])}}}
                            ],
                            "ports": [{"port": rng.choice([8080, "http", 80]), "protocol": "TCP"}],
                        }
                    ],
                }
            elif shape == 2:  # egress-only without policyTypes: a silent ingress deny
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name}},
                    "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}],
                }
            elif shape == 3:  # matchExpressions over several apps
                others = rng.sample(svcs, min(3, len(svcs)))
                spec = {
                    "podSelector": {
                        "matchExpressions": [
                            {"key": "app", "operator": "In", "values": [o.name for o in others]}
                        ]
                    },
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}
                            ]
                        }
                    ],
                }
            elif shape == 4:  # the Service port instead of the pod port
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name}},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 80}]}],
                }
            elif shape == 5:  # a peer selecting nothing (typo)
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name}},
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {"from": [{"podSelector": {"matchLabels": {"app": s.name.replace("-", "")}}}]}
                    ],
                }
            elif shape == 6:  # a port range and an ipBlock
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name, "version": "v1"}},
                    "ingress": [
                        {
                            "from": [{"ipBlock": {"cidr": "192.168.0.0/16", "except": ["192.168.1.0/24"]}}],
                            "ports": [{"port": 8000, "endPort": 8100, "protocol": "TCP"}],
                        }
                    ],
                }
            elif shape == 7:  # namespace AND pod in one element
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name}},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}},
                                    "podSelector": {"matchLabels": {"tier": "frontend"}},
                                }
                            ]
                        }
                    ],
                    "egress": [{}],
                }
            elif shape == 8:  # empty selector keys: NotIn / DoesNotExist
                spec = {
                    "podSelector": {
                        "matchExpressions": [
                            {"key": "app", "operator": "NotIn", "values": [s.name]},
                            {"key": "kubediag.io/simulate", "operator": "DoesNotExist"},
                        ]
                    },
                    "ingress": [{"ports": [{"port": "metrics"}]}],
                }
            elif shape == 9:  # allow everything
                spec = {"podSelector": {"matchLabels": {"app": s.name}}, "ingress": [{}]}
            elif shape == 10:  # matchLabels AND matchExpressions on the podSelector
                spec = {
                    "podSelector": {
                        "matchLabels": {"tier": "backend"},
                        "matchExpressions": [{"key": "version", "operator": "In", "values": ["v1", "v2"]}],
                    },
                    "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8080}]}],
                }
            else:  # a policy whose matchLabels picks a label value no pod has
                spec = {
                    "podSelector": {"matchLabels": {"app": s.name, "tier": "nope"}},
                    "policyTypes": ["Ingress"],
                }
            objs["networkpolicies"].append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": name, "namespace": ns, "labels": {BENCH_LABEL: "1"}},
                    "spec": spec,
                }
            )
    for pod in objs["pods"]:  # a few more pod states
        st = pod.get("status") or {}
        if st.get("phase") != "Running" or pod["metadata"]["namespace"] == "kube-system":
            continue
        r = rng.random()
        if r < 0.01:
            pod["metadata"]["deletionTimestamp"] = NOW
            pod["metadata"]["deletionGracePeriodSeconds"] = 5
        elif r < 0.02:
            for c in st["conditions"]:
                if c["type"] in ("Ready", "ContainersReady"):
                    c.update(status="False", reason="ContainersNotReady")
            for cs in st["containerStatuses"]:
                cs["ready"] = False
        elif r < 0.025:
            st["phase"] = "Succeeded"


# ---- the whole snapshot ---------------------------------------------------------------------------------
def synthetic_objects(
    plan: Plan, seed: int | None = None, variety: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Every object per kind (API JSON, as a LIST's items would carry them)."""
    rng = random.Random(seed)
    nodes = [_node(i) for i in range(len(plan.nodes))]
    ips = _IPs(nodes)
    system = _system_objects(plan.nodes[0])
    namespaces = system["namespaces"] + [namespace_obj(plan, ns) for ns in plan.namespaces]
    for ns in namespaces:
        md = ns["metadata"]
        md.setdefault("labels", {})["kubernetes.io/metadata.name"] = md["name"]
        md.update(uid=_uid("ns", md["name"]), creationTimestamp=NOW)
        ns["spec"] = {"finalizers": ["kubernetes"]}
        ns["status"] = {"phase": "Active"}
    objs: dict[str, list[dict[str, Any]]] = {
        k: []
        for k in (
            "services",
            "endpointslices",
            "pods",
            "nodes",
            "networkpolicies",
            "namespaces",
            "events",
            "ingresses",
            "deployments",
        )
    }
    objs["nodes"] = nodes
    objs["ingressclasses"] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx", "uid": _uid("ingclass", "", "nginx"), "creationTimestamp": NOW},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    ]
    pods_by_ns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in system["pods"] + [p for ns in plan.namespaces for p in plan.objects["pods"][ns]]:
        pod = _copy(pod)  # never mutate the plan
        _pod_defaults(pod)
        _pod_status(pod, ips, len(nodes))
        objs["pods"].append(pod)
        pods_by_ns[pod["metadata"]["namespace"]].append(pod)
        if pod["status"]["phase"] == "Pending":
            objs["events"].append(_scheduling_event(pod))
    rest = system["services"] + [o for ns in plan.namespaces for o in plan.objects["services"][ns]]
    for o in rest:
        o = _copy(o)
        if o["kind"] == "Service":
            _service_defaults(o, len(objs["services"]))
            objs["services"].append(o)
        elif o["kind"] == "NetworkPolicy":
            o["metadata"].update(
                uid=_uid("netpol", o["metadata"]["namespace"], o["metadata"]["name"]),
                creationTimestamp=NOW,
                generation=1,
            )
            objs["networkpolicies"].append(o)
        elif o["kind"] == "Ingress":
            o["metadata"].update(
                uid=_uid("ing", o["metadata"]["namespace"], o["metadata"]["name"]),
                creationTimestamp=NOW,
                generation=1,
            )
            # the bench's Ingresses name class nginx: the controller of a real cluster gives them an address
            o["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.80"}]}}
            objs["ingresses"].append(o)
    objs["namespaces"] = namespaces
    if variety:
        _variety(rng, plan, objs, namespaces)
    for pol in objs["networkpolicies"]:
        _netpol_wire_form(pol)
    for svc in objs["services"]:
        md = svc["metadata"]
        if md["namespace"] == "default" and md["name"] == "kubernetes":
            objs["endpointslices"].append(_kubernetes_slice(svc))
        else:
            objs["endpointslices"] += _slices(svc, pods_by_ns[md["namespace"]], ips)
    for items in objs.values():  # a LIST's order: by namespace, then name (the storage key)
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        if variety:
            rng.shuffle(items)
    return objs


def synthetic_data(plan: Plan, seed: int | None = None, variety: bool = False) -> Any:
    """A kubediag ClusterData of the seeded cluster as `audit -A` would gather it (every kind read)."""
    from kubediag.kinds import SPECS, decode_list
    from kubediag.model import Kind
    from kubediag.snapshot import ClusterData

    objs = synthetic_objects(plan, seed, variety)
    store: dict[Kind, tuple[Any, ...]] = {}
    for kind in SPECS:
        spec = SPECS[kind]
        body = msgspec.json.encode(
            {
                "apiVersion": f"{spec.group}/{spec.version}" if spec.group else spec.version,
                "kind": f"{spec.kind}List",
                "metadata": {"resourceVersion": "1"},
                "items": [
                    {k: v for k, v in o.items() if k not in ("kind", "apiVersion")}
                    for o in objs.get(kind.value, [])
                ],
            }
        )
        items, _ = decode_list(kind, body)
        store[kind] = tuple(items)
    return ClusterData(
        objects=store,
        read=frozenset(store),
        unavailable={},
        server="synthetic",
        services_complete=None,  # audit -A: every Service of every namespace was listed
    )


# What `audit` reports for each seeded kind (status:root-cause category), on the live seeded cluster and here.
EXPECTED_FOUND: dict[str, str] = {
    "healthy": "healthy",
    "selector-typo": "broken:selector-no-match",
    "target-port-number": "broken:target-port-not-exposed",
    "target-port-name": "broken:named-port-not-found",
    "deny-all-netpol": "broken:network-policy-ingress-blocked",
    "ingress-wrong-port": "broken:ingress-backend-invalid",
    "lb-pending": "degraded:loadbalancer-pending",
    "pods-not-ready": "broken:pods-not-ready",
    "pods-crashloop": "broken:pods-crashloop",
    "pods-partly-not-ready": "degraded:pods-not-ready",
    "pods-unschedulable": "broken:pods-unschedulable",
}
