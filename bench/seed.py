"""Seeding the local KWOK cluster for the benchmark: fake nodes, namespaces, bare pods, Services (about 10%
broken in the ways the scenario suite covers), NetworkPolicies and Ingresses; bounded waits; cleanup.

Everything the benchmark creates is named `bench-...` and labelled `kubediag.io/bench`; nothing else in the
shared cluster is touched. Pods are bound with `spec.nodeName` to the bench's own KWOK nodes (no scheduler),
which are cordoned so the scheduler never places other tests' pods on nodes the bench deletes later.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kube import META_LIST, Kube, KubeConfig, KubeError, retrying

BENCH_LABEL = "kubediag.io/bench"
SIZE_LABEL = "kubediag.io/bench-size"
PLAN_LABEL = "kubediag.io/bench-plan"  # digest of the seeded objects: a changed plan is seeded afresh
COMPLETE_LABEL = "kubediag.io/bench-complete"
KIND_LABEL = "kubediag.io/bench-kind"  # on each Service: healthy or the way it is broken
NODE_PREFIX = "bench-node-"
KWOK_BACKLOG = 3000  # pods created but not yet Running (kwok) before the seed pauses creating more
TERMINATED_POD_WATCHERS = re.compile(
    rb'^apiserver_terminated_watchers_total\{group="",resource="pods"\} (\S+)$', re.M
)
ZONES = ("zone-a", "zone-b", "zone-c")
PREFIXES = ("web", "api", "cart", "auth", "search", "orders", "media", "billing", "users", "report")

# The ways a Service is broken, round-robin over the broken ones (as in e2e/scenarios and the check fixtures).
BROKEN_KINDS = (
    "selector-typo",  # selects app=web00013 where the pods say app=web-00013
    "target-port-number",  # targetPort 8081, the pods listen on 8080
    "target-port-name",  # targetPort "htttp", no container port has that name
    "deny-all-netpol",  # a deny-all ingress NetworkPolicy on its pods
    "ingress-wrong-port",  # an Ingress names port 8080 (the pods' port), the Service's port is 80
    "lb-pending",  # type LoadBalancer on a cluster without a cloud controller
    "pods-not-ready",  # every pod kubediag.io/simulate=not-ready
    "pods-crashloop",  # every pod kubediag.io/simulate=crashloop
    "pods-partly-not-ready",  # 3 of 10 pods not ready
    "pods-unschedulable",  # pods with a nodeSelector no node has (left Pending by the scheduler)
)


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Size:
    name: str
    namespaces: int
    services: int
    nodes: int
    netpols: int
    ingresses: int
    pods_per_service: int = 10
    largest_share: float = 0.1  # the share of the Services in namespace 000 (the largest)
    broken_every: int = 10  # one Service in this many is broken

    @property
    def pods(self) -> int:
        return self.services * self.pods_per_service

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespaces": self.namespaces,
            "services": self.services,
            "pods": self.pods,
            "nodes": self.nodes,
            "networkpolicies": self.netpols,
            "ingresses": self.ingresses,
            "broken_share": 1 / self.broken_every,
        }


SIZES = {
    "small": Size("small", namespaces=5, services=100, nodes=5, netpols=30, ingresses=20, largest_share=0.3),
    "default": Size("default", namespaces=50, services=1000, nodes=20, netpols=300, ingresses=200),
    "large": Size("large", namespaces=100, services=5000, nodes=50, netpols=1500, ingresses=1000),
    # Kubernetes' documented scalability thresholds: 150,000 pods and 10,000 Services per cluster
    "xl": Size(
        "xl", namespaces=200, services=10000, nodes=1500, netpols=3000, ingresses=2000, pods_per_service=15
    ),
}


# ---- the plan -------------------------------------------------------------------------------------------------
@dataclass
class SvcPlan:
    namespace: str
    name: str
    kind: str  # "healthy" or one of BROKEN_KINDS
    variant: str = "clusterip"  # clusterip | two-ports | nodeport | headless
    netpol: str | None = None  # None | allow | allow-ns | deny
    ingress: bool = False


@dataclass
class Plan:
    size: Size
    namespaces: list[str]
    nodes: list[str]
    services: list[SvcPlan]
    objects: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)  # phase -> ns -> objs

    def counts(self) -> dict[str, int]:
        c: Counter[str] = Counter()
        for phase in self.objects.values():
            for objs in phase.values():
                c.update(o["kind"] for o in objs)
        return dict(c)

    @cached_property
    def digest(self) -> str:
        doc = json.dumps([self.objects, [node_obj(i) for i in range(len(self.nodes))]], sort_keys=True)
        return hashlib.sha256(doc.encode()).hexdigest()[:12]

    @property
    def largest_namespace(self) -> str:
        return Counter(s.namespace for s in self.services).most_common(1)[0][0]

    def pick(self, namespace: str, kind: str) -> SvcPlan:
        """A Service of `kind` in `namespace`: a plain ClusterIP one without policy or Ingress if there is one."""
        mine = [s for s in self.services if s.namespace == namespace and s.kind == kind]
        plain = [s for s in mine if s.variant == "clusterip" and not s.netpol and not s.ingress]
        return (plain or mine)[0]


def ns_name(size: Size, i: int) -> str:
    return f"bench-{size.name}-{i:03d}"


def node_name(i: int) -> str:
    return f"{NODE_PREFIX}{i:02d}"


def make_plan(size: Size) -> Plan:
    namespaces = [ns_name(size, i) for i in range(size.namespaces)]
    nodes = [node_name(i) for i in range(size.nodes)]
    first = max(1, math.ceil(size.services * size.largest_share))
    rest = size.services - first
    per_ns = [first] + [
        rest // (size.namespaces - 1) + (1 if i < rest % (size.namespaces - 1) else 0)
        for i in range(size.namespaces - 1)
    ]
    services: list[SvcPlan] = []
    g = 0
    for ns, n in zip(namespaces, per_ns, strict=True):
        for _ in range(n):
            name = f"{PREFIXES[g % len(PREFIXES)]}-{g:05d}"
            if g % size.broken_every == 3:
                kind = BROKEN_KINDS[(g // size.broken_every) % len(BROKEN_KINDS)]
            else:
                kind = "healthy"
            variant = "clusterip"
            if kind == "healthy":
                if g % 50 == 7:
                    variant = "nodeport"
                elif g % 50 == 17:
                    variant = "headless"
                elif g % 25 == 11:
                    variant = "two-ports"
            services.append(SvcPlan(ns, name, kind, variant))
            g += 1
    # NetworkPolicies: one deny-all per deny-all-netpol Service, then allow policies on healthy Services;
    # Ingresses: one per ingress-wrong-port Service, then correct ones on other healthy Services.
    np_left = size.netpols - sum(s.kind == "deny-all-netpol" for s in services)
    ing_left = size.ingresses - sum(s.kind == "ingress-wrong-port" for s in services)
    for s in services:
        if s.kind == "deny-all-netpol":
            s.netpol = "deny"
        elif s.kind == "ingress-wrong-port":
            s.ingress = True
    healthy = [s for s in services if s.kind == "healthy" and s.variant in ("clusterip", "two-ports")]
    # spread over the namespaces: every 3rd healthy Service gets a policy, every 3rd (offset) an Ingress
    for i, s in enumerate(healthy):
        if i % 3 != 1 and np_left > 0:
            s.netpol = "allow-ns" if i % 2 else "allow"
            np_left -= 1
        elif i % 3 == 1 and ing_left > 0:
            s.ingress = True
            ing_left -= 1
    plan = Plan(size, namespaces, nodes, services)
    plan.objects = build_objects(plan)
    return plan


# ---- objects ------------------------------------------------------------------------------------------------
def node_obj(i: int) -> dict[str, Any]:
    name = node_name(i)
    cidr = f"10.{128 + i // 16}.{(i % 16) * 16}.0/20"  # fake, outside the Service range 10.96.0.0/12
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "type": "kwok",
                BENCH_LABEL: "node",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/os": "linux",
                "kubernetes.io/hostname": name,
                "topology.kubernetes.io/region": "local",
                "topology.kubernetes.io/zone": ZONES[i % len(ZONES)],
            },
        },
        # cordoned: only the bench binds pods here (spec.nodeName); the scheduler keeps other tests' pods off
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "unschedulable": True},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": f"172.19.{i // 200}.{10 + i % 200}"},
                {"type": "Hostname", "address": name},
            ],
            "allocatable": {"cpu": "64", "memory": "256Gi", "pods": "5000"},
            "capacity": {"cpu": "64", "memory": "256Gi", "pods": "5000"},
        },
    }


def _meta(name: str, ns: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "namespace": ns, "labels": {BENCH_LABEL: "1", **(labels or {})}}


def _num(s: SvcPlan) -> int:
    return int(s.name.rsplit("-", 1)[1])


def _tier(s: SvcPlan) -> str:
    return "frontend" if s.name.startswith(("web", "media")) else "backend"


def pod_objs(s: SvcPlan, g: int, plan: Plan) -> list[dict[str, Any]]:
    out = []
    n_nodes = len(plan.nodes)
    for j in range(plan.size.pods_per_service):
        labels = {"app": s.name, "tier": _tier(s), "version": "v1", "pod-template-hash": f"{g:08x}"[-8:]}
        if s.kind == "pods-not-ready" or (s.kind == "pods-partly-not-ready" and j < 3):
            labels["kubediag.io/simulate"] = "not-ready"
        elif s.kind == "pods-crashloop":
            labels["kubediag.io/simulate"] = "crashloop"
        spec: dict[str, Any] = {
            "containers": [
                {
                    "name": "app",
                    "image": f"registry.example.com/bench/{s.name.split('-')[0]}:1.{g % 7}",
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "APP", "value": s.name},
                        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"memory": "64Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
                }
            ],
            "terminationGracePeriodSeconds": 5,
        }
        if s.kind == "pods-unschedulable":
            spec["nodeSelector"] = {"kubediag.io/bench-pool": "gpu"}  # no node has it: Pending
        else:
            spec["nodeName"] = plan.nodes[(g * 7 + j) % n_nodes]
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": _meta(f"{s.name}-{j:02d}", s.namespace, labels),
                "spec": spec,
            }
        )
    return out


def service_obj(s: SvcPlan) -> dict[str, Any]:
    selector = {"app": s.name, "tier": _tier(s)}
    if s.kind == "selector-typo":
        selector["app"] = s.name.replace("-", "")
    target: int | str = 8080 if _num(s) % 2 else "http"
    if s.kind == "target-port-number":
        target = 8081
    elif s.kind == "target-port-name":
        target = "htttp"
    ports: list[dict[str, Any]] = [{"name": "http", "port": 80, "targetPort": target, "protocol": "TCP"}]
    spec: dict[str, Any] = {"selector": selector, "ports": ports}
    if s.variant == "two-ports":
        ports.append({"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"})
    elif s.variant == "nodeport":
        spec["type"] = "NodePort"
    elif s.variant == "headless":  # clients dial podIP:port (targetPort is ignored): port = container port
        spec["clusterIP"] = "None"
        ports[0].update(port=8080, targetPort=8080)
    if s.kind == "lb-pending":
        spec["type"] = "LoadBalancer"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(s.name, s.namespace, {KIND_LABEL: s.kind}),
        "spec": spec,
    }


def netpol_obj(s: SvcPlan) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": {"app": s.name}}, "policyTypes": ["Ingress"]}
    if s.netpol == "deny":
        name = f"deny-all-{s.name}"
    else:
        name = f"allow-{s.name}"
        peers: list[dict[str, Any]] = [{"podSelector": {}}]
        if s.netpol == "allow-ns":
            peers.append(
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
            )
        ports = [{"protocol": "TCP", "port": 8080}]
        if s.variant == "two-ports":
            ports.append({"protocol": "TCP", "port": 9090})
        spec["ingress"] = [{"from": peers, "ports": ports}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, s.namespace),
        "spec": spec,
    }


def ingress_obj(s: SvcPlan) -> dict[str, Any]:
    port: dict[str, Any] = (
        {"number": 8080}
        if s.kind == "ingress-wrong-port"
        else ({"name": "http"} if _num(s) % 2 else {"number": 80})
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(s.name, s.namespace),
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": f"{s.name}.{s.namespace}.bench.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": s.name, "port": port}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def build_objects(plan: Plan) -> dict[str, dict[str, list[dict[str, Any]]]]:
    pods: dict[str, list[dict[str, Any]]] = {ns: [] for ns in plan.namespaces}
    rest: dict[str, list[dict[str, Any]]] = {ns: [] for ns in plan.namespaces}
    for g, s in enumerate(plan.services):
        pods[s.namespace] += pod_objs(s, g, plan)
        rest[s.namespace].append(service_obj(s))
        if s.netpol:
            rest[s.namespace].append(netpol_obj(s))
        if s.ingress:
            rest[s.namespace].append(ingress_obj(s))
    return {"pods": pods, "services": rest}


def namespace_obj(plan: Plan, ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {BENCH_LABEL: "1", SIZE_LABEL: plan.size.name, PLAN_LABEL: plan.digest},
        },
    }


# ---- transports ---------------------------------------------------------------------------------------------
PLURAL = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Service": "/api/v1/namespaces/{ns}/services",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "Namespace": "/api/v1/namespaces",
    "Node": "/api/v1/nodes",
    "Event": "/api/v1/namespaces/{ns}/events",
}


def create_path(obj: dict[str, Any]) -> str:
    return PLURAL[obj["kind"]].format(ns=obj["metadata"].get("namespace", ""))


class Creator:
    """POSTs objects from a thread pool; 409 AlreadyExists counts as done (a re-run resumes)."""

    def __init__(self, kube: Kube, method: str, threads: int) -> None:
        self.kube = kube
        self.method = method
        self.threads = threads
        self._api: Any = None
        if method == "api":
            from kubernetes import client as k8s_client
            from kubernetes import config as k8s_config

            cfg = k8s_client.Configuration()
            k8s_config.load_kube_config(
                config_file=kube.cfg.path, client_configuration=cfg, persist_config=False
            )
            cfg.connection_pool_maxsize = threads
            cfg.retries = False
            self._api = k8s_client.ApiClient(cfg)

    def _post_api(self, obj: dict[str, Any]) -> None:
        path = create_path(obj)
        method, url, headers, _, _ = self._api.param_serialize(
            method="POST",
            resource_path=path,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        resp = self._api.call_api(method, url, header_params=headers, body=obj, _request_timeout=(10, 60))
        data = resp.read()
        if not (200 <= resp.status < 300 or resp.status == 409):
            raise KubeError(resp.status, "POST", path, data)

    def _post_raw(self, obj: dict[str, Any]) -> None:
        self.kube.json("POST", create_path(obj), body=obj, ok=(409,))

    def create(
        self,
        objs: Sequence[dict[str, Any]],
        what: str,
        deadline: float,
        throttle: Callable[[], None] | None = None,
        chunk: int = 2000,
        post: Callable[[dict[str, Any]], None] | None = None,
    ) -> float:
        """Create `objs`; returns seconds. Progress every ~2 s. `throttle`, if given, is called after every
        `chunk` objects (and may wait: see `seed`'s kwok backlog). `post`: how one object is created (default:
        this Creator's transport)."""
        start = time.monotonic()
        if self.method == "kubectl" and post is None:
            self._create_kubectl(objs, what, deadline)
            return time.monotonic() - start
        if post is None:
            post = self._post_api if self.method == "api" else self._post_raw
        done = 0
        lock = threading.Lock()
        last = [start]

        def one(obj: dict[str, Any]) -> None:
            nonlocal done
            assert post is not None
            try:
                retrying(lambda: post(obj), deadline)
            except Exception as exc:  # the api transport raises its own types
                if getattr(exc, "status", None) == 409:
                    pass
                else:
                    raise
            with lock:
                done += 1
                now = time.monotonic()
                if now - last[0] > 2:
                    last[0] = now
                    log(f"  {what}: {done}/{len(objs)} ({done / (now - start):.0f}/s)")

        step = chunk if throttle else max(1, len(objs))
        with ThreadPoolExecutor(self.threads, thread_name_prefix="bench-seed") as pool:
            for i in range(0, len(objs), step):
                for fut in [pool.submit(one, o) for o in objs[i : i + step]]:
                    fut.result()
                if throttle and i + step < len(objs):
                    throttle()
        took = time.monotonic() - start
        log(
            f"  {what}: {len(objs)} created in {took:.1f}s ({len(objs) / max(took, 1e-9):.0f}/s, {self.method if post in (self._post_api, self._post_raw) else 'raw'}, {self.threads} threads)"
        )
        return took

    def _create_kubectl(self, objs: Sequence[dict[str, Any]], what: str, deadline: float) -> None:
        """`kubectl create -f -` per namespace (a v1 List each), `threads` processes in parallel."""
        by_ns: dict[str, list[dict[str, Any]]] = {}
        for o in objs:
            by_ns.setdefault(o["metadata"].get("namespace", ""), []).append(o)
        kubectl = os.path.join(os.path.dirname(sys.executable), "kubectl")
        start = time.monotonic()

        def one(items: list[dict[str, Any]]) -> None:
            doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
            timeout = max(10.0, deadline - time.monotonic())
            p = subprocess.run(
                [kubectl, "--kubeconfig", self.kube.cfg.path, "create", "-f", "-", "-o", "name"],
                input=doc.encode(),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            errs = [ln for ln in p.stderr.decode().splitlines() if ln.strip() and "AlreadyExists" not in ln]
            if p.returncode != 0 and errs:
                raise RuntimeError(f"kubectl create: {errs[0]}")

        with ThreadPoolExecutor(self.threads) as pool:
            for fut in [pool.submit(one, items) for items in by_ns.values()]:
                fut.result()
        took = time.monotonic() - start
        log(
            f"  {what}: {len(objs)} created in {took:.1f}s ({len(objs) / max(took, 1e-9):.0f}/s, kubectl, {self.threads} procs)"
        )


# ---- Services: ClusterIPs --------------------------------------------------------------------------------------
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")  # e2e/kwok/kwokctl.yaml's service-cluster-ip-range


def with_cluster_ip(plan: Plan, obj: dict[str, Any]) -> dict[str, Any]:
    """A Service of the plan with its ClusterIP chosen here: the API server allocates a dynamic ClusterIP under
    one lock held while it creates the IPAddress object through its own API, about 10 Services/s on this
    machine (10,000 for xl: 17 minutes); a requested address takes that lock only for a lookup. The address is
    what bench/synthetic.py gives the Service (the 1000th of the Service range on, after the cluster's two
    Services); the Service is otherwise the same. Not part of the plan (its digest stays)."""
    if obj["kind"] != "Service" or "clusterIP" in obj["spec"]:
        return obj
    index = _service_index(plan)[(obj["metadata"]["namespace"], obj["metadata"]["name"])]
    ip = str(SERVICE_CIDR[1000 + 2 + index])
    return {**obj, "spec": {**obj["spec"], "clusterIP": ip, "clusterIPs": [ip]}}


_SERVICE_INDEX: dict[str, dict[tuple[str, str], int]] = {}


def _service_index(plan: Plan) -> dict[tuple[str, str], int]:
    if plan.digest not in _SERVICE_INDEX:
        _SERVICE_INDEX[plan.digest] = {(s.namespace, s.name): g for g, s in enumerate(plan.services)}
    return _SERVICE_INDEX[plan.digest]


# ---- pod statuses written by the seeder (instead of kwok) ---------------------------------------------------
KWOK_EVENTS = {  # the Event kwok's simulation stages emit (e2e/kwok/stages.yaml), once per pod
    "not-ready": ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"),
    "crashloop": ("BackOff", "Back-off restarting failed container"),
}
PROTOBUF = "application/vnd.kubernetes.protobuf"
DISREGARD = "disregardStatusWithLabelSelector: kubediag.io/bench=1"  # bench/kwok-bench.yaml


def seeder_writes_status(kube: Kube) -> bool:
    """Whether this cluster's kwok leaves the bench pods alone (bench/cluster's clusters, bench/kwok-bench.yaml:
    the kwok config kwokctl saved next to the kubeconfig says so). Then the seeder writes each pod's status
    itself soon after creating it, as kwok's stages would. On any other cluster (the shared e2e one) kwok
    writes them: the seeder would race it."""
    conf = os.path.join(os.path.dirname(os.path.abspath(kube.cfg.path)), "kwok.yaml")
    try:
        with open(conf, encoding="utf-8") as f:
            return any(line.strip() == DISREGARD for line in f)
    except OSError:
        return False


def control_plane_cpu(kube: Kube) -> dict[str, float]:
    """CPU seconds (user + system) each process of a kwokctl cluster has used so far, by component (the pid
    files kwokctl keeps next to the kubeconfig); empty for other clusters."""
    pids = os.path.join(os.path.dirname(os.path.abspath(kube.cfg.path)), "pids")
    out: dict[str, float] = {}
    try:
        names = sorted(os.listdir(pids))
    except OSError:
        return out
    tick = os.sysconf("SC_CLK_TCK")
    for name in names:
        try:
            with open(os.path.join(pids, name), encoding="ascii") as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        out[name.removesuffix(".pid")] = (int(fields[11]) + int(fields[12])) / tick
    return out


def terminated_pod_watchers(kube: Kube) -> float | None:
    """How many pod watchers the API server has closed for not keeping up (its metric
    apiserver_terminated_watchers_total), or None if it does not say."""
    code, out = kube.raw("GET", "/metrics")
    m = TERMINATED_POD_WATCHERS.search(out) if code == 200 else None
    return float(m.group(1)) if m else None


class WatchGuard:
    """Pauses the seed while kwok replays its pod watch. kwok v0.8.0 (re)starts its watch of every bound pod
    from resourceVersion 0 (`informer.Option.setup`): the API server first sends it every existing pod. When
    the API server closes that watch for falling behind (xl, from ~45,000 pods on the loaded machine),
    the replay of tens of thousands of pods falls behind the seed's new events in turn and is closed again:
    2-3 replays a minute, each costing the API server and kwok CPU in proportion to the pods (the seed
    slowed from ~85 to ~40 pods/s). A pause of one second per 1,500 pods seeded (at least 15 s) lets the
    replay finish; the seed then goes on at its former rate."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.last = terminated_pod_watchers(kube)
        self.pauses: list[tuple[str, int, float]] = []  # (UTC, pods seeded, seconds)

    def check(self, seeded: int) -> None:
        now = terminated_pod_watchers(self.kube)
        if self.last is not None and now is not None and now > self.last:
            pause = max(15.0, seeded / 1500)
            log(f"  the API server closed {now - self.last:.0f} pod watcher(s) that fell behind; pausing {pause:.0f}s")
            self.pauses.append((_now(), seeded, pause))
            time.sleep(pause)
            now = terminated_pod_watchers(self.kube)
        self.last = now


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kwok_running_status(pod: dict[str, Any], host_ip: str, now: str) -> dict[str, Any]:
    """The status kwok's pod stages (e2e/kwok/stages.yaml: pod-ready, pod-simulate-not-ready,
    pod-simulate-crashloop) write into a bench pod bound to a node, without its pod IP: the seeder writes it
    (`PodStatuses`) and bench/synthetic.py models it."""
    md, spec = pod["metadata"], pod["spec"]
    uid = md["uid"]
    sim = (md.get("labels") or {}).get("kubediag.io/simulate")
    if sim not in (None, *KWOK_EVENTS):  # the plan uses no other simulation
        raise ValueError(f"pod {md['namespace']}/{md['name']}: no status for kubediag.io/simulate={sim}")
    names = " ".join(c["name"] for c in spec["containers"])
    msg = f"containers with unready status: [{names}]"
    conditions: list[dict[str, Any]] = [
        {"lastTransitionTime": now, "status": "True", "type": "PodReadyToStartContainers"},
        {"lastTransitionTime": now, "status": "True", "type": "Initialized"},
    ]
    if sim is None:
        conditions += [
            {"lastTransitionTime": now, "status": "True", "type": "Ready"},
            {"lastTransitionTime": now, "status": "True", "type": "ContainersReady"},
        ]
    else:
        conditions += [
            {
                "lastTransitionTime": now,
                "status": "False",
                "type": t,
                "reason": "ContainersNotReady",
                "message": msg,
            }
            for t in ("Ready", "ContainersReady")
        ]
    statuses = []
    for c in spec["containers"]:
        cs: dict[str, Any] = {"image": c["image"], "imageID": "", "name": c["name"]}
        if sim == "crashloop":
            cid = "containerd://" + hashlib.sha256(f"{uid}/{c['name']}/4".encode()).hexdigest()
            cs.update(
                containerID=cid,
                ready=False,
                restartCount=4,
                started=False,
                lastState={
                    "terminated": {
                        "containerID": cid,
                        "exitCode": 1,
                        "reason": "Error",
                        "startedAt": now,
                        "finishedAt": now,
                    }
                },
                state={
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 1m20s restarting failed container={c['name']} "
                        f"pod={md['name']}_{md['namespace']}({uid})",
                    }
                },
            )
        else:
            cs.update(
                containerID="containerd://" + hashlib.sha256(f"{uid}/{c['name']}".encode()).hexdigest(),
                ready=sim is None,
                restartCount=0,
                started=True,
                state={"running": {"startedAt": now}},
            )
        statuses.append(cs)
    return {
        "conditions": conditions,
        "containerStatuses": statuses,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "phase": "Running",
        "startTime": now,
    }


class PodStatuses:
    """What kwok's pod stages (e2e/kwok/stages.yaml: pod-ready, pod-simulate-not-ready, pod-simulate-crashloop)
    write into a bench pod bound to a bench node, written by the seeder through the pods/status subresource
    (kwok's patch: a strategic merge patch of `status`, rendered from the pod the API server returned), and
    the Warning Event kwok's simulations emit (its event recorder's: source kwok_controller, count 1).

    Pod IPs: kwok hands out the next free address of the node's podCIDR in the order it plays the pods; here
    the k-th bench pod of the plan on a node gets the k-th address: deterministic (the same as
    bench/synthetic.py's), so a resumed seed gives every pod the address it would have had."""

    def __init__(self, plan: Plan) -> None:
        nodes = {n["metadata"]["name"]: n for n in (node_obj(i) for i in range(len(plan.nodes)))}
        self.host_ip = {
            name: next(a["address"] for a in n["status"]["addresses"] if a["type"] == "InternalIP")
            for name, n in nodes.items()
        }
        hosts = {name: ipaddress.ip_network(n["spec"]["podCIDR"]).hosts() for name, n in nodes.items()}
        self.pod_ip: dict[tuple[str, str], str] = {}
        for ns in plan.namespaces:
            for p in plan.objects["pods"][ns]:
                node = p["spec"].get("nodeName")
                if node:
                    self.pod_ip[(ns, p["metadata"]["name"])] = str(next(hosts[node]))

    def patch(self, pod: dict[str, Any]) -> dict[str, Any]:
        """The status kwok's stage for this pod renders (pod as the API server returned it)."""
        md = pod["metadata"]
        status = kwok_running_status(pod, self.host_ip[pod["spec"]["nodeName"]], _now())
        if not (pod.get("status") or {}).get("podIP"):
            ip = self.pod_ip[(md["namespace"], md["name"])]
            status.update(podIP=ip, podIPs=[{"ip": ip}])
        return {"status": status}

    def event(self, pod: dict[str, Any]) -> dict[str, Any] | None:
        md = pod["metadata"]
        sim = (md.get("labels") or {}).get("kubediag.io/simulate")
        if sim not in KWOK_EVENTS:
            return None
        reason, message = KWOK_EVENTS[sim]
        now = _now()
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{md['name']}.{time.time_ns():x}", "namespace": md["namespace"]},
            "involvedObject": {
                "kind": "Pod",
                "name": md["name"],
                "namespace": md["namespace"],
                "uid": md["uid"],
            },
            "reason": reason,
            "message": message,
            "source": {"component": "kwok_controller"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": "Warning",
            "eventTime": None,
            "reportingComponent": "kwok_controller",
            "reportingInstance": "",
        }

    def write(self, kube: Kube, pod: dict[str, Any], deadline: float) -> bool:
        """Write `pod`'s status (and event) unless it left Pending already; True if written."""
        if (pod.get("status") or {}).get("phase") != "Pending" or not pod["spec"].get("nodeName"):
            return False
        md = pod["metadata"]
        path = f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}/status"
        patch = self.patch(pod)
        # fieldManager: the managedFields entry kwok's write leaves (its user agent's name)
        q = {"fieldManager": "kwok-controller"}
        # kwok sends a strategic merge patch of `status`. A PUT of the pod as created (its resourceVersion) with
        # that status merged in gives the same pod (a bench pod's status has no lists before this) and costs
        # the API server less: no patch to apply, and the current object comes from its watch cache (written
        # a few seconds after the create: see `seed`). A changed pod (409) gets the merge patch instead.
        body = json.dumps({**pod, "status": {**(pod.get("status") or {}), **patch["status"]}}).encode()
        # the answer (the pod) is not read: protobuf is the cheapest for the API server to encode
        code, out = kube.raw("PUT", path, q, body, {"Accept": PROTOBUF})
        if code == 409:
            body = json.dumps(patch).encode()
            hdrs = {"Content-Type": "application/merge-patch+json"}
            retrying(lambda: kube.json("PATCH", path, q, body=body, headers=hdrs), deadline)
        elif not 200 <= code < 300:
            raise KubeError(code, "PUT", path, out)
        ev = self.event(pod)
        if ev is not None:
            retrying(lambda: kube.json("POST", create_path(ev), q, body=ev, ok=(409,)), deadline)
        return True


# ---- waits ----------------------------------------------------------------------------------------------------
def wait_until(
    what: str,
    probe: Callable[[], tuple[bool, str]],
    timeout: float,
    interval: float = 1.0,
    quiet: bool = False,
) -> float:
    """Poll `probe` (bounded; the interval grows to 5 s) until it says done; returns seconds. `quiet`: no
    'done' line unless it waited."""
    start = time.monotonic()
    last_note = 0.0
    while True:
        done, note = probe()
        now = time.monotonic()
        if done:
            if not quiet or now - start > 1:
                log(f"  {what}: done in {now - start:.1f}s ({note})")
            return now - start
        if now - start > timeout:
            raise TimeoutError(f"{what}: not done after {timeout:.0f}s ({note})")
        if now - last_note > 5:
            log(f"  {what}: waiting, {note} ({now - start:.0f}s)")
            last_note = now
        time.sleep(interval)
        interval = min(interval * 1.5, 5.0)


def bench_namespaces(kube: Kube) -> list[dict[str, Any]]:
    return list(kube.list("/api/v1/namespaces", {"labelSelector": BENCH_LABEL}, meta_only=True))


def bench_nodes(kube: Kube) -> list[dict[str, Any]]:
    return list(kube.list("/api/v1/nodes", {"labelSelector": f"{BENCH_LABEL}=node"}))


def _nodes_ready(kube: Kube, names: Iterable[str]) -> tuple[bool, str]:
    want = set(names)
    ready = 0
    tainted = 0
    for n in bench_nodes(kube):
        if n["metadata"]["name"] not in want:
            continue
        conds = {c["type"]: c["status"] for c in (n.get("status") or {}).get("conditions") or []}
        ready += conds.get("Ready") == "True"
        keys = {t.get("key") for t in (n.get("spec") or {}).get("taints") or []}
        tainted += bool(keys & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"})
    return ready == len(want) and tainted == 0, f"{ready}/{len(want)} Ready, {tainted} with not-ready taints"


# ---- seeding --------------------------------------------------------------------------------------------------
def by_namespace(by_ns: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every namespace's objects together, one namespace after the other (namespace 000 first). Admission
    (LimitRanger, ResourceQuota) LISTs a namespace's LimitRanges and ResourceQuotas live when it has none,
    at most every 30 s per namespace: spread over every namespace, that is up to one such LIST a second per
    30 namespaces; one namespace at a time, one per 30 s. (Neither showed in the API server's profiles at
    large and xl: <0.5% of its CPU.)"""
    return [o for objs in by_ns.values() for o in objs]


def missing(kube: Kube, objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`objs` minus the ones already there (metadata-only LISTs of the bench label): a resumed seed does
    not spend a 409 per object it created before."""
    have: set[tuple[str, str, str]] = set()
    for kind in sorted({o["kind"] for o in objs}):
        path = PLURAL[kind].replace("/namespaces/{ns}", "")
        have.update(
            (kind, o["metadata"].get("namespace", ""), o["metadata"]["name"])
            for o in kube.list(path, {"labelSelector": BENCH_LABEL}, meta_only=True, page=5000)
        )
    if not have:
        return objs
    left = [
        o for o in objs if (o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) not in have
    ]
    log(f"  {len(objs) - len(left)} of {len(objs)} already there (a previous seed's); creating {len(left)}")
    return left


@dataclass
class SeedReport:
    reused: bool = False
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    method: str = ""
    threads: int = 0
    objects: dict[str, int] = field(default_factory=dict)
    pod_status: str = "kwok"  # who writes the pods' statuses: kwok, or the seeder (seeder_writes_status)
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> component -> CPU seconds
    load: dict[str, list[float]] = field(default_factory=dict)  # step -> the machine's load averages at its end
    started: str = ""  # UTC
    watch_pauses: list[tuple[str, int, float]] = field(default_factory=list)  # WatchGuard's (UTC, pods, s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "reused": self.reused,
            "pod_status": self.pod_status,
            "seconds": round(self.seconds, 2),
            "steps": {k: round(v, 2) for k, v in self.steps.items()},
            "method": self.method,
            "threads": self.threads,
            "objects": self.objects,
            "cpu_s": {k: {c: round(v, 1) for c, v in d.items()} for k, d in self.cpu.items()},
            "load_avg": self.load,
            "started": self.started,
            "watch_pauses": self.watch_pauses,
        }


def _mine(n: dict[str, Any], plan: Plan) -> bool:
    labels = n["metadata"].get("labels") or {}
    return labels.get(SIZE_LABEL) == plan.size.name and labels.get(PLAN_LABEL) == plan.digest


def seeded_state(kube: Kube, plan: Plan) -> str:
    """'complete' if this plan is seeded and done, 'partial', or 'absent'."""
    mine = [n for n in bench_namespaces(kube) if _mine(n, plan)]
    if not mine:
        return "absent"
    first = next((n for n in mine if n["metadata"]["name"] == ns_name(plan.size, 0)), None)
    if (
        len(mine) == plan.size.namespaces
        and first
        and first["metadata"]["labels"].get(COMPLETE_LABEL) == "true"
        and not any(n["metadata"].get("deletionTimestamp") for n in mine)
    ):
        return "complete"
    return "partial"


def seed(kube: Kube, plan: Plan, method: str, threads: int, timeout: float) -> SeedReport:
    size = plan.size
    rep = SeedReport(
        method=method,
        threads=threads,
        objects=plan.counts(),
        pod_status="seeder" if seeder_writes_status(kube) else "kwok",
    )
    start = time.monotonic()
    rep.started = _now()
    deadline = start + timeout
    others = [n["metadata"]["name"] for n in bench_namespaces(kube) if not _mine(n, plan)]
    if others:
        log(f"seed: {len(others)} bench namespace(s) of another size or plan exist; deleting them first")
        for ns in others:
            delete_namespace(kube, ns)
        rep.steps["delete other sizes"] = wait_until(
            "other sizes' namespaces gone",
            lambda: (
                not (left := [n for n in bench_namespaces(kube) if n["metadata"]["name"] in others]),
                f"{len(left)} left",
            ),
            max(60.0, deadline - time.monotonic()),
        )
    terminating = [
        n["metadata"]["name"] for n in bench_namespaces(kube) if n["metadata"].get("deletionTimestamp")
    ]
    if terminating:
        rep.steps["wait terminating"] = wait_until(
            "terminating bench namespaces gone",
            lambda: (
                not (left := [n for n in bench_namespaces(kube) if n["metadata"]["name"] in terminating]),
                f"{len(left)} left",
            ),
            max(60.0, deadline - time.monotonic()),
        )
    creator = Creator(kube, method, threads)
    raw = Creator(kube, "raw", threads)  # nodes and namespaces: few objects, same everywhere

    log(f"seed: {len(plan.nodes)} nodes")
    t = time.monotonic()
    raw.create(missing(kube, [node_obj(i) for i in range(len(plan.nodes))]), "nodes", deadline)
    wait_until("nodes Ready", lambda: _nodes_ready(kube, plan.nodes), max(30.0, deadline - time.monotonic()))
    rep.steps["nodes"] = time.monotonic() - t

    log(f"seed: {len(plan.namespaces)} namespaces")
    t = time.monotonic()
    raw.create(missing(kube, [namespace_obj(plan, ns) for ns in plan.namespaces]), "namespaces", deadline)
    want = set(plan.namespaces)

    def sa_ready() -> tuple[bool, str]:
        have = {
            o["metadata"]["namespace"]
            for o in kube.list(
                "/api/v1/serviceaccounts", {"fieldSelector": "metadata.name=default"}, meta_only=True
            )
        }
        return want <= have, f"{len(want & have)}/{len(want)} default ServiceAccounts"

    wait_until("default ServiceAccounts", sa_ready, max(30.0, deadline - time.monotonic()), 0.3)
    rep.steps["namespaces"] = time.monotonic() - t

    # the unschedulable pods last: every pod bound before them would send them back to the scheduler,
    # which tries each against every node (1,500 for xl) and writes FailedScheduling events
    pods = sorted(missing(kube, by_namespace(plan.objects["pods"])), key=lambda o: "nodeName" not in o["spec"])
    prefix = f"bench-{size.name}-"

    def pending(limit: int) -> tuple[int, bool]:
        """Bound pods kwok has not handled yet (bench pods carry no Pending simulation), counted up to
        `limit` in one page: listing tens of thousands of pending pods every few seconds would slow kwok's
        own writes down. (count, more than that)"""
        body = kube.json(
            "GET",
            "/api/v1/pods",
            {
                "labelSelector": BENCH_LABEL,
                "fieldSelector": "status.phase=Pending,spec.nodeName!=",
                "limit": str(limit),
            },
            headers={"Accept": META_LIST},
        )
        left = sum(
            1 for o in body.get("items") or [] if o["metadata"].get("namespace", "").startswith(prefix)
        )
        return left, bool((body.get("metadata") or {}).get("continue"))

    def pods_started() -> tuple[bool, str]:
        left, more = pending(500)
        return left == 0 and not more, f"{'500+' if more else left} bound pods still Pending"

    def kwok_backlog() -> None:
        """Pause creating while kwok is more than KWOK_BACKLOG pods behind: every pod costs two writes (ours
        and kwok's status), and a flood of ours starves kwok's, including its node Lease renewals (with
        1,500 nodes, leases then expire and the controller manager would taint the nodes)."""

        def ok() -> tuple[bool, str]:
            left, more = pending(KWOK_BACKLOG)
            return not more, f"{left}{'+' if more else ''} bound pods not Running yet"

        wait_until("kwok backlog", ok, max(60.0, deadline - time.monotonic()), 2.0, quiet=True)

    def cpu_now() -> dict[str, float]:
        t = os.times()
        return {**control_plane_cpu(kube), "seeder": t.user + t.system}

    cpu = [cpu_now()]

    def cpu_step(step: str) -> None:
        """The CPU seconds each control-plane process (and the seeder) used since the previous step."""
        now = cpu_now()
        rep.cpu[step] = {k: v - cpu[0][k] for k, v in now.items() if k in cpu[0]}
        cpu[0] = now
        rep.load[step] = [round(x, 2) for x in os.getloadavg()]
        log(
            f"  CPU during {step}: "
            + ", ".join(f"{k} {v:.0f}s" for k, v in sorted(rep.cpu[step].items()))
            + f"; load average {rep.load[step][0]:.1f}"
        )

    if rep.pod_status == "seeder":
        statuses = PodStatuses(plan)

        created: list[dict[str, Any]] = []
        created_lock = threading.Lock()

        def post_pod(obj: dict[str, Any]) -> None:
            """Create the pod; its status (and event) is written after the chunk (`write_statuses`)."""
            path = create_path(obj)
            code, out = kube.raw(
                "POST", path, body=json.dumps(obj).encode(), headers={"Accept": "application/json"}
            )
            if code == 409:  # a retried POST, or a resumed seed
                pod = kube.json("GET", f"{path}/{obj['metadata']['name']}")
            elif 200 <= code < 300:
                pod = json.loads(out)
            else:
                raise KubeError(code, "POST", path, out)
            with created_lock:
                created.append(pod)

        older: list[dict[str, Any]] = []

        def write_statuses(flush: bool = False) -> None:
            """The statuses of the pods of the chunk before the last one (all of them if `flush`), seconds after
            their creation: the API server then finds each in its watch cache (right after the create, it
            reads it back from etcd and decodes it)."""
            with created_lock:
                todo = older + created if flush else older[:]
                older[:] = [] if flush else created
                created[:] = []
            with ThreadPoolExecutor(threads, thread_name_prefix="bench-status") as pool:
                for fut in [
                    pool.submit(retrying, lambda p=p: statuses.write(kube, p, deadline), deadline)
                    for p in todo
                ]:
                    fut.result()
            seeded[0] += len(todo)
            if not flush:
                guard.check(seeded[0])

        guard = WatchGuard(kube)
        seeded = [0]

        log(f"seed: {len(pods)} pods, statuses written by the seeder (raw, {threads} threads)")
        rep.steps["pods: create + status"] = creator.create(
            pods, "pods", deadline, throttle=write_statuses, chunk=1000, post=post_pod
        )
        write_statuses(flush=True)
        rep.watch_pauses = guard.pauses
        # pods a previous (interrupted) seed created but gave no status yet
        t = time.monotonic()
        left = [
            p
            for p in kube.list(
                "/api/v1/pods",
                {"labelSelector": BENCH_LABEL, "fieldSelector": "status.phase=Pending,spec.nodeName!="},
                page=2000,
            )
            if p["metadata"].get("namespace", "").startswith(prefix)
        ]
        if left:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda p: statuses.write(kube, p, deadline), left))
            log(f"  {len(left)} pods of a previous seed given their status in {time.monotonic() - t:.1f}s")
        rep.steps["pods: Running"] = wait_until(
            "pods Running", pods_started, max(60.0, deadline - time.monotonic())
        )
    else:
        log(f"seed: {len(pods)} pods ({method}, {threads} threads)")
        rep.steps["pods: create"] = creator.create(pods, "pods", deadline, throttle=kwok_backlog)
        rep.steps["pods: kwok status"] = wait_until(
            "pods Running (kwok)", pods_started, max(60.0, deadline - time.monotonic())
        )

    cpu_step("pods")

    rest = [with_cluster_ip(plan, o) for o in missing(kube, by_namespace(plan.objects["services"]))]
    log(f"seed: {len(rest)} Services, NetworkPolicies and Ingresses")

    def post_rest(obj: dict[str, Any]) -> None:
        path = create_path(obj)
        code, out = kube.raw(
            "POST", path, body=json.dumps(obj).encode(), headers={"Accept": "application/json"}
        )
        if code == 422 and b"already allocated" in out:  # the address is another Service's: let the API pick
            obj = {
                **obj,
                "spec": {k: v for k, v in obj["spec"].items() if k not in ("clusterIP", "clusterIPs")},
            }
            code, out = kube.raw(
                "POST", path, body=json.dumps(obj).encode(), headers={"Accept": "application/json"}
            )
        if not (200 <= code < 300 or code == 409):
            raise KubeError(code, "POST", path, out)

    rep.steps["services: create"] = creator.create(
        rest, "services+policies+ingresses", deadline, post=post_rest
    )
    n_svc = len(plan.services)

    def slices_published() -> tuple[bool, str]:
        have = {
            (o["metadata"]["namespace"], o["metadata"]["labels"].get("kubernetes.io/service-name"))
            for o in kube.list(
                "/apis/discovery.k8s.io/v1/endpointslices",
                {"labelSelector": "kubernetes.io/service-name"},
                meta_only=True,
            )
            if o["metadata"].get("namespace", "").startswith(prefix)
        }
        return len(have) >= n_svc, f"{len(have)}/{n_svc} Services with EndpointSlices"

    cpu_step("services")
    rep.steps["endpointslices"] = wait_until(
        "EndpointSlices published", slices_published, max(60.0, deadline - time.monotonic()), 2.0
    )
    cpu_step("endpointslices")
    kube.json(
        "PATCH",
        f"/api/v1/namespaces/{ns_name(size, 0)}",
        body={"metadata": {"labels": {COMPLETE_LABEL: "true"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    rep.seconds = time.monotonic() - start
    log(f"seed: done in {rep.seconds:.1f}s")
    return rep


# ---- cleanup --------------------------------------------------------------------------------------------------
def delete_namespace(kube: Kube, ns: str) -> None:
    """Delete a bench namespace, its pods first with a zero grace period: where kwok leaves the bench pods
    alone (bench/kwok-bench.yaml) no kubelet would ever confirm a graceful deletion."""
    try:
        kube.json(
            "DELETE",
            f"/api/v1/namespaces/{ns}/pods",
            {"labelSelector": BENCH_LABEL, "gracePeriodSeconds": "0"},
            ok=(404, 409),
        )
    except (KubeError, OSError) as exc:  # e.g. a timeout: the API server goes on deleting
        log(f"  deleting the pods of {ns}: {exc}")
    kube.json("DELETE", f"/api/v1/namespaces/{ns}", ok=(404, 409))


def cleanup(kube: Kube, wait_pods: float = 900.0) -> dict[str, Any]:
    """Delete every bench namespace, then the bench nodes once their pods are gone.

    The namespace deletions are issued at once; the nodes must outlive the pods, because kwok only
    finishes deleting pods on nodes it manages: pods of a deleted node wait for the pod GC, which force-
    deletes them at the controller manager's 20 requests/s (40+ minutes for 50,000 pods, against about
    150 pods/s through kwok). If pods remain after `wait_pods` seconds the nodes are left (cordoned) and
    a later `run.py --cleanup` finishes the job."""
    start = time.monotonic()
    names = [n["metadata"]["name"] for n in bench_namespaces(kube)]
    for ns in names:
        delete_namespace(kube, ns)
    log(f"cleanup: deletion of {len(names)} bench namespace(s) issued")

    def pods_gone() -> tuple[bool, str]:
        body = kube.json(
            "GET",
            "/api/v1/pods",
            {"labelSelector": BENCH_LABEL, "limit": "500"},
            headers={"Accept": META_LIST},
        )
        left = sum(
            1 for o in body.get("items") or [] if o["metadata"].get("namespace", "").startswith("bench-")
        )
        more = bool((body.get("metadata") or {}).get("continue"))
        return left == 0 and not more, f"{'500+' if more else left} bench pods left"

    out: dict[str, Any] = {"namespaces_deleted": len(names), "nodes_deleted": 0, "pods_gone_after_s": None}
    try:
        out["pods_gone_after_s"] = round(wait_until("bench pods deleted", pods_gone, wait_pods, 2.0), 1)
    except TimeoutError as exc:
        log(
            f"cleanup: {exc}; the bench nodes stay (cordoned) until then: run `python bench/run.py --cleanup` later"
        )
        out["pods_left"] = pods_gone()[1].split()[0]
        return out
    nodes = [n["metadata"]["name"] for n in bench_nodes(kube)]
    for n in nodes:
        kube.json("DELETE", f"/api/v1/nodes/{n}", ok=(404,))
    out["nodes_deleted"] = len(nodes)
    out["seconds"] = round(time.monotonic() - start, 1)
    log(
        f"cleanup: {len(nodes)} bench node(s) deleted; namespaces finish terminating in the background ({out['seconds']:.0f}s)"
    )
    return out


def connect() -> Kube:
    return Kube(KubeConfig.load())
