"""Cluster-wide checks of `audit` (KDAnn): the mistakes every Services guide warns about, judged once over
every Service in scope. O(services + nodes). Moved from audit.py; IDs and results unchanged.

Adding one: a function of the `Fleet` (data, Services in scope, the audit's Scope) registered with
`@cluster_check(id="KDAnn", category=Category.X, title=..., needs=[...], what/why/example/fix)`; it returns
exactly one result built with its own `.failed(severity, message, remediation, objects)`, `.passed(message)`
or `.skipped(message, reason)`. Then failing and passing fixtures in tests/fixtures/checks/KDAnn/ (no
`target`; an optional `scope`), its ID in CLUSTER_EXPECTED of e2e/test_audit_e2e.py (or `e2e_exempt`), its
category at the end of `Category` and in the audit schema's cluster_finding enum, and `make docs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubediag.checks.base import Fleet, cluster_check
from kubediag.model import Category, ClusterResult, Kind, Severity
from kubediag.objects import Service
from kubediag.snapshot import name_of
from kubediag.workloads import node_addresses

LB_SPRAWL_THRESHOLD = 2  # from this many LoadBalancer Services on, suggest one Ingress/Gateway


def _key(obj: Service) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def _listing(keys: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


@cluster_check(
    id="KDA01",
    category=Category.LOADBALANCER_PER_SERVICE,
    title="LoadBalancer Services share an Ingress or Gateway",
    needs=[Kind.SERVICE],
    what=f"""
Counts the Services of type `LoadBalancer` in the audit's scope; from {LB_SPRAWL_THRESHOLD} on, suggests
one Ingress controller or Gateway in front of ClusterIP Services.""",
    why="""
Each LoadBalancer Service provisions its own external load balancer and public address, billed and
firewalled separately. Nothing is broken, but every new Service adds cost and attack surface that one
shared entry point (routing by host and path) avoids.""",
    example="""
kind: Service
metadata: {name: shop-web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
kind: Service
metadata: {name: blog-site, namespace: blog}
spec: {type: LoadBalancer, selector: {app: site}, ports: [{port: 80, targetPort: 8080}]}""",
    fix="""
Put one Ingress controller or Gateway (itself the only LoadBalancer Service) in front of ClusterIP Services
and route by host/path; once a Service's route exists:
`kubectl -n NS patch service NAME --type=merge -p '{"spec":{"type":"ClusterIP"}}'`.""",
)
def loadbalancer_per_service(fleet: Fleet) -> ClusterResult:
    lbs = [_key(s) for s in fleet.services if s.spec.type == "LoadBalancer"]
    if len(lbs) >= LB_SPRAWL_THRESHOLD:
        return loadbalancer_per_service.failed(
            Severity.WARNING,
            f"{len(lbs)} LoadBalancer Services in scope ({_listing(lbs)}): each provisions its own external "
            "load balancer and public address, billed and firewalled separately",
            "Put one Ingress controller or Gateway (itself the only LoadBalancer Service) in front of "
            "ClusterIP Services and route by host/path: kubectl -n NS patch service NAME --type=merge "
            '-p \'{"spec":{"type":"ClusterIP"}}\' once its route exists',
            lbs,
        )
    return loadbalancer_per_service.passed(
        f"{len(lbs)} LoadBalancer Service(s) in scope" + (f": {lbs[0]}" if lbs else ""), lbs
    )


@cluster_check(
    id="KDA02",
    category=Category.NODEPORT_EXTERNAL_NODES,
    title="NodePort Services are not exposed on nodes with external addresses",
    needs=[Kind.SERVICE, Kind.NODE],
    what="""
Lists the NodePort Services in scope and the nodes with an `ExternalIP` address (`status.addresses`). When
both exist, every such node port answers on every external address. Skipped (with the permission named)
when NodePort Services exist but the nodes cannot be read.""",
    why="""
kube-proxy opens a NodePort Service's port on every node, external addresses included. An internal
Service exposed as NodePort on nodes with public addresses answers from the internet unless a firewall
blocks 30000-32767.""",
    example="""
kind: Service
metadata: {name: admin, namespace: shop}
spec: {type: NodePort, selector: {app: admin}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}
---
kind: Node
metadata: {name: node-a}
status: {addresses: [{type: ExternalIP, address: 203.0.113.10}]}   # 203.0.113.10:30080 is public""",
    fix="""
Make internal Services ClusterIP behind one Ingress/Gateway, or restrict node ports (cloud firewall,
kube-proxy `--nodeport-addresses`); KD803 in each Service's report gives the exact patch.""",
)
def nodeport_external_nodes(fleet: Fleet) -> ClusterResult:
    chk = nodeport_external_nodes
    nodeports = [
        s
        for s in fleet.services
        if s.spec.type == "NodePort" and any(p.node_port for p in s.spec.ports)
    ]
    if not nodeports:
        return chk.passed("no NodePort Service")
    keys = [_key(s) for s in nodeports]
    missing = fleet.data.missing(Kind.NODE)
    if missing is not None:
        return chk.skipped(
            f"{len(nodeports)} NodePort Service(s); the nodes' addresses could not be read",
            missing.describe(),
            keys,
        )
    public = sorted((name_of(n), ips) for n in fleet.data.nodes if (ips := node_addresses(n, "ExternalIP")))
    if not public:
        return chk.passed(f"{len(nodeports)} NodePort Service(s); no node has an ExternalIP address", keys)
    first = next(p.node_port for p in nodeports[0].spec.ports if p.node_port)
    nodes_text = _listing([f"{n} {ips[0]}" for n, ips in public], 5)
    return chk.failed(
        Severity.WARNING,
        f"{len(nodeports)} NodePort Service(s) ({_listing(keys)}) open their node ports on every "
        f"node, and {len(public)} node(s) have external addresses ({nodes_text}): e.g. "
        f"{public[0][1][0]}:{first} answers from outside unless a firewall blocks 30000-32767",
        "Make internal Services ClusterIP behind one Ingress/Gateway, or restrict node ports "
        "(cloud firewall, kube-proxy --nodeport-addresses); see KD803 in each Service's report",
        (*keys, *(f"node/{n}" for n, _ in public)),
    )


@cluster_check(
    id="KDA03",
    category=Category.SERVICE_NO_PORTS,
    title="Every Service exposes at least one port",
    needs=[Kind.SERVICE],
    what="""
Lists the Services in scope, other than ExternalName, that declare no port (`spec.ports` empty), usually
headless Services created only for a DNS name.""",
    why="""
A Service without ports gets no virtual IP load balancing, its EndpointSlices carry no ports, and nothing
is there for an Ingress backend or an SRV lookup to use: clients that expect a port find none.""",
    example="""
kind: Service
metadata: {name: portless, namespace: kube-system}
spec: {clusterIP: None, selector: {app: dns}, ports: []}""",
    fix="""
Declare the ports the pods serve (`spec.ports[].port`, `targetPort`, `name`), or delete the Service if only
its DNS name was wanted.""",
)
def service_no_ports(fleet: Fleet) -> ClusterResult:
    portless = [
        _key(s)
        for s in fleet.services
        if s.spec.type != "ExternalName" and not s.spec.ports
    ]
    if portless:
        return service_no_ports.failed(
            Severity.WARNING,
            f"{len(portless)} Service(s) declare no port ({_listing(portless)}): no virtual IP load "
            "balancing, EndpointSlices without ports, nothing for an Ingress or SRV lookup to use",
            "Declare the ports the pods serve (spec.ports[].port/targetPort/name), or delete the Service "
            "if only its DNS name was wanted",
            portless,
        )
    return service_no_ports.passed("every Service has ports")
