"""Traffic policy: with `Local` policies, does each node that receives traffic have a ready local pod?"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from kubediag.checks.base import NotApplicable, check
from kubediag.labels import labels_of
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Node, Pod
from kubediag.snapshot import Snapshot, name_of
from kubediag.workloads import node_ready, node_schedulable, selection

EXCLUDE_FROM_LB = "node.kubernetes.io/exclude-from-external-load-balancers"


def node_of(pod: Pod) -> str:
    return pod.spec.node_name


def _names(nodes: Sequence[Node], limit: int = 5) -> str:
    names = [name_of(n) for n in nodes]
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _patch(snap: Snapshot, field: str) -> str:
    body = json.dumps({"spec": {field: "Cluster"}}, separators=(",", ":"))
    return f"kubectl -n {snap.namespace} patch service {snap.name} --type=merge -p '{body}'"


def _selects_pods(snap: Snapshot) -> str | None:
    if snap.svc_type == "ExternalName":
        return "an ExternalName Service has no traffic policy"
    if not snap.selector:
        return "the Service has no selector"
    return None


@check(
    id="KD701",
    applies=_selects_pods,
    category=Category.TRAFFIC_POLICY_LOCAL,
    stage=Stage.TRAFFIC_POLICY,
    title="Local traffic policies have a ready pod on the nodes that receive traffic",
    needs=[Kind.SERVICE, Kind.POD, Kind.NODE],
    what="""
For `externalTrafficPolicy: Local` (NodePort and LoadBalancer Services, and `externalIPs`) and
`internalTrafficPolicy: Local`, lists the Ready, schedulable nodes that run no ready selected pod
(`spec.nodeName`). With `--from`, checks the client pod's own node for `internalTrafficPolicy: Local`.""",
    why="""
With a Local policy kube-proxy only forwards to endpoints on the node that received the packet; a node
without one drops the traffic (timeouts, not refusals). With `externalTrafficPolicy: Local`, NodePort
traffic to such nodes is dropped; a cloud load balancer steers around them through the health check on
`healthCheckNodePort`, so there it is by design. With `internalTrafficPolicy: Local`, pods on such nodes
cannot reach the Service at all. When no node has a ready pod, nothing gets through.""",
    example="""
kind: Service
spec:
  type: NodePort
  externalTrafficPolicy: Local   # one replica on node-a: node-b:30080 and node-c:30080 time out
  selector: {app: web}""",
    fix="""
Run a ready pod on every node that receives traffic (a DaemonSet, or more replicas with
`topologySpreadConstraints`), or switch the policy back to `Cluster`
(`kubectl -n shop patch service web --type=merge -p '{"spec":{"externalTrafficPolicy":"Cluster"}}'`; with
`Cluster` the pods see node IPs instead of client IPs).""",
)
def traffic_policy_local(snap: Snapshot) -> Iterator[Finding]:
    spec, ns = snap.spec, snap.namespace
    external = spec.external_traffic_policy == "Local" and (
        snap.svc_type in ("NodePort", "LoadBalancer") or bool(spec.external_ips)
    )
    internal = spec.internal_traffic_policy == "Local"
    if not (external or internal):
        raise NotApplicable("neither externalTrafficPolicy nor internalTrafficPolicy is Local")
    ready = list(selection(snap).ready)
    if not ready:
        raise NotApplicable("no selected pod is ready (see the pod checks)")
    local = {node_of(p) for p in ready}
    nodes = sorted(snap.data.nodes, key=name_of)
    # Nodes that take traffic: Ready and not cordoned, plus cordoned Ready nodes that still run a ready pod.
    serving = [n for n in nodes if node_ready(n) and (node_schedulable(n) or name_of(n) in local)]
    where = ", ".join(sorted(local)[:5])
    client_ok: bool | None = None
    if internal and snap.client is not None and snap.client_pod is not None:
        cnode = node_of(snap.client_pod)
        client_ok = cnode in local
        if not client_ok:
            yield traffic_policy_local.finding(
                Severity.CRITICAL,
                f"Client pod {snap.client.namespace}/{snap.client.name} runs on node {cnode or '<unscheduled>'}, "
                f"which has no ready pod of Service {ns}/{snap.name}; with internalTrafficPolicy: Local "
                f"kube-proxy drops its connections (ready pods run on {where})",
                f"{_patch(snap, 'internalTrafficPolicy')}   # or run a ready pod on {cnode or 'the client node'} "
                "(e.g. as a DaemonSet)",
                [
                    Evidence("Service", ns, snap.name, "spec.internalTrafficPolicy", "Local", "Cluster"),
                    Evidence(
                        "Pod",
                        snap.client.namespace,
                        snap.client.name,
                        "spec.nodeName",
                        cnode or "<none>",
                        f"a node with a ready pod of {snap.name} ({where})",
                    ),
                ],
            )
    policies: list[tuple[str, list[Node]]] = []
    if external:
        candidates = serving
        if snap.svc_type == "LoadBalancer":
            candidates = [n for n in serving if EXCLUDE_FROM_LB not in labels_of(n) or name_of(n) in local]
        policies.append(("externalTrafficPolicy", candidates))
    if internal and client_ok is not False:
        policies.append(("internalTrafficPolicy", serving))
    for field, candidates in policies:
        without = [n for n in candidates if name_of(n) not in local]
        if not candidates or not without:
            continue
        evidence = [
            Evidence("Service", ns, snap.name, f"spec.{field}", "Local", "Cluster, or a pod per node")
        ]
        evidence += [
            Evidence(
                "Node", None, name_of(n), "ready pods of the Service", "0", ">= 1 (Local traffic policy)"
            )
            for n in without[:5]
        ]
        fix = (
            f"Spread ready pods over every node (DaemonSet, more replicas, topologySpreadConstraints), "
            f"or {_patch(snap, field)}"
        )
        if len(without) == len(candidates):
            by_name = snap.data.nodes_by_name
            off = [
                f"{n} ({'not Ready' if n in by_name and not node_ready(by_name[n]) else 'excluded or unknown'})"
                for n in sorted(local - {name_of(c) for c in candidates})
            ]
            message = (
                f"Service {ns}/{snap.name} has {field}: Local, but none of the {len(candidates)} Ready nodes "
                f"runs a ready pod of it (the ready pods run on {', '.join(off) or 'unknown nodes'}): "
                "every node drops the traffic"
            )
            yield traffic_policy_local.finding(Severity.CRITICAL, message, fix, evidence)
            continue
        if field == "externalTrafficPolicy":
            effect = (
                "the load balancer's health check (healthCheckNodePort) steers traffic away from them, but "
                "NodePort traffic sent to them is dropped"
                if snap.svc_type == "LoadBalancer"
                else "NodePort traffic sent to them is dropped (timeouts)"
            )
        else:
            effect = "pods on those nodes cannot reach the Service (kube-proxy drops their connections)"
        message = (
            f"Service {ns}/{snap.name} has {field}: Local and {len(without)} of {len(candidates)} nodes run no "
            f"ready pod of it ({_names(without)}): {effect}; ready pods run on {where}"
        )
        severity = Severity.WARNING
        if field == "externalTrafficPolicy" and snap.svc_type == "LoadBalancer":
            severity = Severity.INFO  # by design: the load balancer health-checks the nodes
        elif field == "internalTrafficPolicy" and client_ok:
            severity = Severity.INFO  # the --from client's own node has a local pod
        yield traffic_policy_local.finding(severity, message, fix, evidence)
