"""Exposure: does a LoadBalancer get an address, and what do node ports open to the outside?

These checks are independent of the chain above them: a pending load balancer or a public node port is not
explained by a bad selector or crashing pods, so they still run after an earlier root cause.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from kubediag.checks.base import NotApplicable, check
from kubediag.checks.pods import quote
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Event, LoadBalancerIngress, Node
from kubediag.snapshot import Snapshot, name_of
from kubediag.workloads import event_message, event_source, event_time, newest_event, node_addresses

LB_FAILURES = ("SyncLoadBalancerFailed", "UpdateLoadBalancerFailed", "UnAvailableLoadBalancer")
LB_SUCCESSES = ("EnsuredLoadBalancer", "UpdatedLoadBalancer")


def lb_ingress(snap: Snapshot) -> tuple[LoadBalancerIngress, ...]:
    return snap.service.status.load_balancer.ingress if snap.service is not None else ()


def ingress_text(ingress: Sequence[LoadBalancerIngress]) -> str:
    return ", ".join(i.ip or i.hostname for i in ingress) or "<none>"


def node_ports(snap: Snapshot) -> list[tuple[int, int, str]]:
    """(port, nodePort, protocol) of every Service port with an allocated node port."""
    return [
        (p.port, p.node_port, p.protocol)
        for p in snap.ports
        if p.node_port
    ]


def service_events(snap: Snapshot) -> tuple[Event, ...] | None:
    """The Service's events, or None when events could not be read."""
    if snap.data.missing(Kind.EVENT) is not None:
        return None
    return snap.data.events_for("Service", snap.namespace, snap.name)


def event_count(event: Event) -> int:
    return event.count or (event.series.count if event.series is not None else 0) or 1


def describe_event(event: Event) -> str:
    source = event_source(event)
    when = event_time(event)
    return (
        f"{event.reason}"
        + (f" x{event_count(event)}" if event_count(event) > 1 else "")
        + (f" from {source}" if source else "")
        + (f" at {when}" if when else "")
        + f": {quote(event_message(event))}"
    )


def _load_balancer(snap: Snapshot) -> str | None:
    if snap.svc_type != "LoadBalancer":
        return f"the Service is of type {snap.svc_type}, not LoadBalancer"
    return None


def _opens_node_port(snap: Snapshot) -> str | None:
    if snap.svc_type not in ("NodePort", "LoadBalancer"):
        return f"the Service is of type {snap.svc_type}: it opens no node port"
    return None


def _other_paths(snap: Snapshot) -> str:
    ports = node_ports(snap)
    if ports:
        return (
            "ClusterIP and NodePort (" + ", ".join(f"{n}/{proto}" for _, n, proto in ports) + ") still work"
        )
    return "ClusterIP access still works"


# ---- KD801 -----------------------------------------------------------------------------------------------


@check(
    id="KD801",
    applies=_load_balancer,
    category=Category.LOADBALANCER_PENDING,
    stage=Stage.EXPOSURE,
    title="A LoadBalancer Service has an external address",
    needs=[Kind.SERVICE],
    independent=True,
    what="""
For `type: LoadBalancer`, checks `status.loadBalancer.ingress`. When it is empty (`EXTERNAL-IP <pending>`),
says why from the Service's Events (when they can be read): no event at all means no load-balancer
implementation acted on it (bare metal, kind or KWOK without MetalLB, cloud-provider-kind or a cloud
controller manager); `spec.loadBalancerClass` set means only a controller for that class may act, and none
did; `EnsuringLoadBalancer` without `EnsuredLoadBalancer` means provisioning is in progress (a note);
Warning events are quoted (a cloud controller failure is only noted here: KD802 reports it as the cause).""",
    why="""
Without an address nothing outside the cluster can reach the Service through a load balancer. ClusterIP
and NodePort access keep working, so this is a warning: the external path is missing, not the Service.""",
    example="""
kind: Service
metadata: {name: web, namespace: shop}
spec: {type: LoadBalancer, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
status: {loadBalancer: {}}   # no cloud controller, no MetalLB: pending forever""",
    fix="""
Install a load-balancer implementation (MetalLB with an address pool, cloud-provider-kind, or the cloud
controller manager), or expose the Service another way (`type: NodePort`, an Ingress). With
`loadBalancerClass`, deploy the controller for that class (the field is immutable: recreate the Service to
remove it).""",
)
def loadbalancer_pending(snap: Snapshot) -> Iterator[Finding]:
    if lb_ingress(snap):
        return
    ns = snap.namespace
    cls = snap.spec.load_balancer_class
    events = service_events(snap)
    evidence = [
        Evidence(
            "Service",
            ns,
            snap.name,
            "status.loadBalancer.ingress",
            "[] (EXTERNAL-IP <pending>)",
            "an address assigned by a load-balancer implementation",
        )
    ]
    head = f"LoadBalancer Service {ns}/{snap.name} has no external address (EXTERNAL-IP <pending>)"
    describe = f"kubectl -n {ns} describe service {snap.name}"
    as_nodeport = (
        f"kubectl -n {ns} patch service {snap.name} --type=merge "
        + "-p '"
        + json.dumps({"spec": {"type": "NodePort"}}, separators=(",", ":"))
        + "'"
    )
    install = (
        "Install a load-balancer implementation (MetalLB with an IPAddressPool, cloud-provider-kind, or the "
        f"cloud controller manager), or expose it without one:\n{as_nodeport}"
    )
    newest = newest_event(e for e in events or () if e.type == "Warning")
    if newest is not None:
        detail = describe_event(newest)
        severity = Severity.WARNING
        if newest.reason in LB_FAILURES:
            detail += " (see KD802)"
            ok = newest_event(e for e in events or () if e.reason in LB_SUCCESSES)
            if ok is None or event_time(ok) <= event_time(newest):
                # KD802 reports this failure as the cause; the pending address is its symptom
                severity = Severity.INFO
        yield loadbalancer_pending.finding(
            severity,
            f"{head}: the load-balancer controller reports {detail}; {_other_paths(snap)}",
            f"Act on the controller's message; {describe}",
            [
                *evidence,
                Evidence("Event", ns, name_of(newest), "reason", newest.reason, "no failure"),
            ],
        )
        return
    if cls:
        acted = sorted({event_source(e) for e in events or () if event_source(e)})
        message = (
            f"{head}: spec.loadBalancerClass is {cls!r}, so the cloud provider's service controller ignores it "
            f"and only a controller for that class may provision it; "
            + (
                f"{', '.join(acted)} acted on it but assigned no address"
                if acted
                else "no controller has acted on it"
                + (" (no events)" if events is not None else " (events could not be read)")
            )
            + f"; {_other_paths(snap)}"
        )
        evidence.append(
            Evidence(
                "Service", ns, snap.name, "spec.loadBalancerClass", cls, "a class a running controller claims"
            )
        )
        yield loadbalancer_pending.finding(
            Severity.WARNING,
            message,
            f"Deploy the controller for class {cls!r}, or recreate the Service without spec.loadBalancerClass "
            f"(it is immutable):\nkubectl -n {ns} get service {snap.name} -o yaml > svc.yaml   # delete "
            "spec.loadBalancerClass in svc.yaml, then:\nkubectl replace --force -f svc.yaml",
            evidence,
        )
        return
    if events is None:
        missing = snap.data.missing(Kind.EVENT)
        yield loadbalancer_pending.finding(
            Severity.WARNING,
            f"{head}; events could not be read ({missing.describe() if missing else 'unknown'}), so kubediag "
            "cannot tell a cluster without a load-balancer implementation from one that is still "
            f"provisioning; {_other_paths(snap)}",
            f"{describe}   # no events at all means no implementation:\n{install}",
            evidence,
        )
        return
    if not events:
        yield loadbalancer_pending.finding(
            Severity.WARNING,
            f"{head} and no controller has acted on it (no events): this cluster has no load-balancer "
            "implementation (bare metal, kind or KWOK without MetalLB, cloud-provider-kind or a cloud "
            f"controller manager); {_other_paths(snap)}",
            install,
            evidence,
        )
        return
    ensuring = newest_event(e for e in events if e.reason == "EnsuringLoadBalancer")
    ensured = newest_event(e for e in events if e.reason in LB_SUCCESSES)
    if ensuring is not None and (ensured is None or event_time(ensured) < event_time(ensuring)):
        yield loadbalancer_pending.finding(
            Severity.INFO,
            f"{head} yet: {event_source(ensuring) or 'the controller'} is provisioning it (EnsuringLoadBalancer "
            f"at {event_time(ensuring) or '?'}, no EnsuredLoadBalancer since); {_other_paths(snap)}",
            f"Wait a few minutes; if it stays pending: {describe}",
            evidence,
        )
        return
    last = newest_event(events)
    yield loadbalancer_pending.finding(
        Severity.WARNING,
        f"{head}; the newest event is {describe_event(last) if last else '?'}; {_other_paths(snap)}",
        describe,
        evidence,
    )


# ---- KD802 -----------------------------------------------------------------------------------------------


def _sync_fix(snap: Snapshot, reason: str, message: str) -> str:
    low = message.lower()
    ns = snap.namespace
    describe = f"kubectl -n {ns} describe service {snap.name}"
    if reason == "UnAvailableLoadBalancer" or "no available nodes" in low:
        return (
            "kubectl get nodes -L node.kubernetes.io/exclude-from-external-load-balancers   # remove that label "
            "from some nodes, fix NotReady ones: the load balancer needs backend nodes\n" + describe
        )
    if "quota" in low or "limit exceeded" in low:
        action = "Raise the cloud quota named in the message, or free unused load balancers and addresses"
    elif any(w in low for w in ("forbidden", "unauthorized", "permission", "not authorized", "accessdenied")):
        action = "Grant the cloud controller's identity the permission named in the message"
    elif "annotation" in low or "subnet" in low:
        action = "Fix the Service annotation or the subnet named in the message"
    else:
        action = "Act on the cloud error in the message"
    return (
        f"{action}; then watch for EnsuredLoadBalancer:\n{describe}\n"
        "kubectl -n kube-system logs deploy/cloud-controller-manager   # or your cloud's controller"
    )


@check(
    id="KD802",
    applies=_load_balancer,
    category=Category.LOADBALANCER_SYNC_FAILED,
    stage=Stage.EXPOSURE,
    title="The load-balancer controller syncs the Service",
    needs=[Kind.SERVICE, Kind.EVENT],
    independent=True,
    what="""
Reads the Warning events the service controller (cloud controller manager) records on a LoadBalancer
Service: `SyncLoadBalancerFailed`, `UpdateLoadBalancerFailed` and `UnAvailableLoadBalancer`, and quotes the
newest message (quota, permissions, subnet or annotation errors come verbatim from the cloud). A failure
followed by a newer `EnsuredLoadBalancer`/`UpdatedLoadBalancer` is only noted as resolved.""",
    why="""
A failed sync leaves the Service without a load balancer, or leaves an existing one with stale settings or
backend nodes. `UnAvailableLoadBalancer` means no node qualifies as a backend (all excluded, NotReady or
being deleted): the load balancer exists but forwards to nothing.

Severity: `UnAvailableLoadBalancer` is critical (no traffic can flow through the load balancer at all).
The sync and update failures are warnings, as for KD801: with no address the external path is missing but
ClusterIP and NodePort still work, and with an address the old configuration keeps serving.""",
    example="""
kind: Event
involvedObject: {kind: Service, name: web, namespace: shop}
type: Warning
reason: SyncLoadBalancerFailed
message: "Error syncing load balancer: failed to ensure load balancer: ... QuotaExceeded ..." """,
    fix="""
Act on the quoted cloud error (raise the quota, grant the controller's IAM permission, fix the subnet or
annotation). For `UnAvailableLoadBalancer`, make nodes eligible again: remove the
`node.kubernetes.io/exclude-from-external-load-balancers` label, fix NotReady nodes. Then watch
`kubectl -n shop describe service web` for `EnsuredLoadBalancer`.""",
)
def loadbalancer_sync_failed(snap: Snapshot) -> Iterator[Finding]:
    ns = snap.namespace
    events = snap.data.events_for("Service", ns, snap.name)
    failures = [e for e in events if e.reason in LB_FAILURES and e.type in ("Warning", "")]  # unset: Warning
    newest = newest_event(failures)
    if newest is None:
        return
    reason, message = newest.reason, event_message(newest)
    ingress = lb_ingress(snap)
    evidence = [
        Evidence("Event", ns, name_of(newest), "reason", reason, "EnsuredLoadBalancer"),
        Evidence(
            "Service", ns, snap.name, "status.loadBalancer.ingress", ingress_text(ingress), "an address"
        ),
    ]
    ok = newest_event(e for e in events if e.reason in LB_SUCCESSES)
    if ok is not None and event_time(ok) > event_time(newest):
        yield loadbalancer_sync_failed.finding(
            Severity.INFO,
            f"The load-balancer controller failed earlier for Service {ns}/{snap.name} ({describe_event(newest)}) "
            f"but succeeded since ({ok.reason} at {event_time(ok)})",
            f"kubectl -n {ns} describe service {snap.name}",
            evidence,
        )
        return
    state = (
        f"the Service keeps its load balancer {ingress_text(ingress)} with the previous configuration"
        if ingress
        else "the Service has no external address"
    )
    severity = Severity.WARNING
    if reason == "UnAvailableLoadBalancer":
        severity = Severity.CRITICAL
        state = "the load balancer has no backend node, so nothing reaches the Service through it"
    others = len(failures) - 1
    yield loadbalancer_sync_failed.finding(
        severity,
        f"The load-balancer controller fails for Service {ns}/{snap.name}: {describe_event(newest)}"
        + (f" (and {others} older failure event{'s' if others > 1 else ''})" if others else "")
        + f"; {state}",
        _sync_fix(snap, reason, message),
        evidence,
    )


# ---- KD803 -----------------------------------------------------------------------------------------------


def _public_nodes(snap: Snapshot) -> list[tuple[Node, list[str]]]:
    """(node, its ExternalIP addresses) for the nodes that have some, by name; memoised per data (the same
    for every Service). Read only."""
    key = ("public-nodes",)
    memo = snap.data.memo
    if key not in memo:
        public = [(n, node_addresses(n, "ExternalIP")) for n in sorted(snap.data.nodes, key=name_of)]
        memo[key] = [(n, ips) for n, ips in public if ips]
    return memo[key]  # type: ignore[no-any-return]


@check(
    id="KD803",
    applies=_opens_node_port,
    category=Category.NODEPORT_EXPOSURE,
    stage=Stage.EXPOSURE,
    title="Node ports are not opened on nodes with external IPs by accident",
    needs=[Kind.SERVICE, Kind.NODE],
    independent=True,
    what="""
For NodePort and LoadBalancer Services with allocated node ports, lists the nodes that have an `ExternalIP`
address: kube-proxy opens every node port on every node address (unless `--nodeport-addresses` limits it),
so the Service answers on `<external IP>:<nodePort>`. A warning for `type: NodePort`, a note for
LoadBalancer (which allocates node ports too unless `allocateLoadBalancerNodePorts: false`).""",
    why="""
Nothing reaches the Service through a node port when a firewall blocks 30000-32767 (the usual "ClusterIP
works, node:30080 times out"); when nothing blocks it, the Service is open to the internet, bypassing the
load balancer's `loadBalancerSourceRanges`, TLS termination and WAF. Either way it is worth knowing.""",
    example="""
kind: Service
spec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}
---
kind: Node
status: {addresses: [{type: ExternalIP, address: 203.0.113.10}]}   # http://203.0.113.10:30080 is public""",
    fix="""
If the Service should be internal, make it `ClusterIP` (remove `nodePort` from each port), or put an Ingress
or LoadBalancer in front; otherwise restrict node ports with a cloud firewall or kube-proxy's
`--nodeport-addresses`. For LoadBalancer Services whose implementation does not need node ports, set
`allocateLoadBalancerNodePorts: false`.""",
)
def nodeport_exposure(snap: Snapshot) -> Iterator[Finding]:
    ports = node_ports(snap)
    if not ports:
        raise NotApplicable("no node port is allocated")
    public = _public_nodes(snap)
    if not public:
        return
    ns = snap.namespace
    port_text = ", ".join(f"{n}/{proto} (port {p})" for p, n, proto in ports)
    nodes_text = ", ".join(f"{name_of(n)} {ips[0]}" for n, ips in public[:5]) + (
        f" and {len(public) - 5} more" if len(public) > 5 else ""
    )
    first_ip, first_port = public[0][1][0], ports[0][1]
    message = (
        f"Service {ns}/{snap.name} ({snap.svc_type}) opens node port(s) {port_text} on every node, and "
        f"{len(public)} node(s) have external IPs ({nodes_text}): it answers on {first_ip}:{first_port} from "
        "outside the cluster unless a firewall blocks 30000-32767"
    )
    evidence = [
        Evidence(
            "Service", ns, snap.name, "spec.ports[].nodePort", port_text, "no node port, or a firewalled one"
        )
    ] + [
        Evidence(
            "Node",
            None,
            name_of(n),
            "status.addresses[ExternalIP]",
            ", ".join(ips),
            "internal addresses only",
        )
        for n, ips in public[:5]
    ]
    if snap.svc_type == "LoadBalancer":
        body = json.dumps({"spec": {"allocateLoadBalancerNodePorts": False}}, separators=(",", ":"))
        yield nodeport_exposure.finding(
            Severity.INFO,
            message + "; a LoadBalancer Service allocates node ports too",
            f"kubectl -n {ns} patch service {snap.name} --type=merge -p '{body}'   # if your load-balancer "
            "implementation does not need node ports; or firewall 30000-32767",
            evidence,
        )
        return
    ops: list[dict[str, Any]] = [{"op": "replace", "path": "/spec/type", "value": "ClusterIP"}]
    ops += [
        {"op": "remove", "path": f"/spec/ports/{i}/nodePort"}
        for i, p in enumerate(snap.ports)
        if p.node_port
    ]
    yield nodeport_exposure.finding(
        Severity.WARNING,
        message,
        f"kubectl -n {ns} patch service {snap.name} --type=json -p '{json.dumps(ops, separators=(',', ':'))}'"
        "   # if it should be internal; otherwise firewall 30000-32767 or set kube-proxy --nodeport-addresses",
        evidence,
    )
