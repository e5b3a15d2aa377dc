"""DNS: can the client resolve the Service's name at all (its own DNS settings, the cluster DNS)?

KD603 (checks/netpol.py) judges whether NetworkPolicies let DNS queries through; these two judge what comes
before: whether the client asks the cluster DNS at all (KD604), and whether the cluster DNS has a ready
endpoint to answer (KD605). The cluster DNS is the kube-system Service labelled k8s-app=kube-dns, read with
`--from` (and by `audit` when kube-system is in scope).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubediag.checks.base import NO_CLIENT, NotApplicable, check, needs_client
from kubediag.dependents import (
    DNS_NAMESPACE,
    DNS_SELECTOR,
    ClientDns,
    client_dns,
    cluster_dns_services,
    cluster_ips,
    listed_endpoints,
    maybe_node_local,
    ready_endpoints,
    uses_cluster_dns,
)
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Deployment, Pod
from kubediag.snapshot import Snapshot, name_of, ns_of
from kubediag.workloads import json_pointer, template_owner


def _client_pod(snap: Snapshot) -> Pod:
    ref = snap.client
    if ref is None:
        raise NotApplicable(NO_CLIENT)
    pod = snap.client_pod
    if pod is None:
        raise NotApplicable(f"the client pod {ref.namespace}/{ref.name} was not found; check the --from name")
    return pod


def _dns_gap(snap: Snapshot) -> str | None:
    """Why the cluster DNS is unknown (None when it was read)."""
    if snap.data.cluster_dns_read:
        return None
    return snap.data.cluster_dns_gap or "the cluster DNS was not read"


def _fix(snap: Snapshot, pod: Pod, dns: ClientDns) -> str:
    """Patch the client's workload back to ClusterFirst (ClusterFirstWithHostNet for hostNetwork pods)."""
    policy = "ClusterFirstWithHostNet" if dns.host_network else "ClusterFirst"
    owner = template_owner(pod)
    ns = ns_of(pod)
    base = ["spec", "template", "spec"] if owner is not None and owner.kind != "Job" else []
    ops: list[dict[str, Any]] = [{"op": "replace", "path": json_pointer(*base, "dnsPolicy"), "value": policy}]
    if dns.effective == "None":
        cfg = dns.config
        if cfg.options is not None:  # keep its options (ndots...): drop only the outside resolvers
            ops += [
                {"op": "remove", "path": json_pointer(*base, "dnsConfig", key)}
                for key, value in (("nameservers", cfg.nameservers), ("searches", cfg.searches))
                if value is not None
            ]
        else:
            ops.append({"op": "remove", "path": json_pointer(*base, "dnsConfig")})
    body = json.dumps(ops, separators=(",", ":"))
    if owner is not None and owner.kind in ("Deployment", "StatefulSet", "DaemonSet"):
        return f"kubectl -n {ns} patch {owner.kind.lower()} {owner.name} --type=json -p '{body}'"
    return (
        f"Recreate pod {ns}/{name_of(pod)} with dnsPolicy: {policy} and without the outside dnsConfig "
        "(a pod's DNS settings cannot be changed in place)"
    )


@check(
    id="KD604",
    applies=needs_client,
    category=Category.CLIENT_DNS_MISCONFIGURED,
    stage=Stage.NETWORK_POLICY,
    title="The client resolves names with the cluster DNS",
    needs=[Kind.SERVICE, Kind.POD],
    independent=True,
    what="""
With `--from NS/POD`: reads the client's `dnsPolicy` and `dnsConfig`. `ClusterFirst` (and
`ClusterFirstWithHostNet`) send queries to the cluster DNS. `Default` uses the node's resolver, as does
`ClusterFirst` on a `hostNetwork: true` pod (the kubelet falls back to `Default` unless the policy is
`ClusterFirstWithHostNet`). `None` uses only `dnsConfig.nameservers`: compared with the ClusterIP of the
cluster DNS Service (kube-system, `k8s-app=kube-dns`); without it the cluster's names do not resolve. With
the cluster DNS but no `<namespace>.svc` search domain, only the fully qualified name resolves (warning).""",
    why="""
Service names exist only in the cluster DNS. A client that asks another resolver gets NXDOMAIN (or a
timeout) for `web.shop.svc.cluster.local` while the Service, its endpoints and every policy are healthy:
`could not resolve host`, `Name or service not known`.""",
    example="""
kind: Deployment
metadata: {name: backend-v2}
spec:
  template:
    spec:
      dnsPolicy: None
      dnsConfig: {nameservers: [6.7.8.9]}   # not the cluster DNS (10.96.0.10)""",
    fix="""
Put the client back on the cluster DNS:
`kubectl -n default patch deployment backend-v2 --type=json -p '[{"op":"replace","path":"/spec/template/spec/dnsPolicy","value":"ClusterFirst"},{"op":"remove","path":"/spec/template/spec/dnsConfig"}]'`
(`ClusterFirstWithHostNet` for hostNetwork pods). Pods' DNS settings are immutable: the workload rolls.""",
)
def client_dns_configured(snap: Snapshot) -> Iterator[Finding]:
    pod = _client_pod(snap)
    dns = client_dns(pod)
    who = f"client {ns_of(pod)}/{name_of(pod)}"
    target = snap.dns_name
    ev_policy = Evidence(
        "Pod", ns_of(pod), name_of(pod), "spec.dnsPolicy", dns.policy, "ClusterFirst (the cluster DNS)"
    )
    if dns.effective == "ClusterFirst":
        if dns.host_network:
            yield client_dns_configured.finding(
                Severity.INFO,
                f"{who} uses the node's network with dnsPolicy ClusterFirstWithHostNet: it asks the cluster DNS",
                "Nothing to change.",
            )
        return
    fix = _fix(snap, pod, dns)
    if dns.effective == "Default":
        if dns.host_network and dns.policy == "ClusterFirst":
            ev_policy = Evidence(
                "Pod",
                ns_of(pod),
                name_of(pod),
                "spec.dnsPolicy",
                "ClusterFirst with spec.hostNetwork: true",
                "ClusterFirstWithHostNet",
            )
        yield client_dns_configured.finding(
            Severity.CRITICAL,
            f"{who} has {dns.why}: it resolves with its node's /etc/resolv.conf, not the cluster DNS, so "
            f"{target} does not resolve (unless the node's own resolver forwards the cluster domain to the "
            "cluster DNS)",
            fix,
            [ev_policy],
        )
        return
    if dns.effective != "None":
        raise NotApplicable(f"the client's dnsPolicy {dns.policy!r} is not one kubediag knows")
    servers = ", ".join(dns.nameservers) or "none"
    ev_servers = Evidence(
        "Pod",
        ns_of(pod),
        name_of(pod),
        "spec.dnsConfig.nameservers",
        servers,
        "the cluster DNS Service's ClusterIP",
    )
    uses = uses_cluster_dns(snap.data, pod)
    dns_svcs = cluster_dns_services(snap.data)
    known = [ip for s in dns_svcs for ip in cluster_ips(s)]
    if uses is False:
        ev_servers = Evidence(
            "Pod",
            ns_of(pod),
            name_of(pod),
            "spec.dnsConfig.nameservers",
            servers,
            f"{', '.join(known)} (Service {DNS_NAMESPACE}/{name_of(dns_svcs[0])})",
        )
        yield client_dns_configured.finding(
            Severity.CRITICAL,
            f"{who} has dnsPolicy None and asks only nameservers {servers}, not the cluster DNS "
            f"({DNS_NAMESPACE}/{name_of(dns_svcs[0])} {', '.join(known)}): {target} and every other cluster "
            "name do not resolve from it",
            fix,
            [ev_policy, ev_servers],
        )
        return
    if uses is None:
        gap = _dns_gap(snap)
        if any(maybe_node_local(n) for n in dns.nameservers):
            why = "a link-local nameserver may be NodeLocal DNSCache, which forwards to the cluster DNS"
        elif gap is not None:
            why = f"the cluster DNS address is unknown ({gap})"
        else:
            why = f"no Service labelled {DNS_SELECTOR} in {DNS_NAMESPACE} names the cluster DNS"
        yield client_dns_configured.finding(
            Severity.WARNING,
            f"{who} has dnsPolicy None and asks only nameservers {servers}; kubediag cannot confirm one of "
            f"them is the cluster DNS ({why}): if none is, {target} does not resolve from it",
            f"kubectl -n {DNS_NAMESPACE} get service -l {DNS_SELECTOR} -o wide   # its ClusterIP must be among "
            f"the nameservers; else:\n{fix}",
            [ev_policy, ev_servers],
        )
        return
    searches = dns.searches
    if not any(".svc." in s or s.startswith("svc.") for s in searches):
        yield client_dns_configured.finding(
            Severity.WARNING,
            f"{who} has dnsPolicy None with the cluster DNS as nameserver but no cluster search domains "
            f"(searches: {', '.join(searches) or 'none'}): short names such as {snap.name} or "
            f"{snap.name}.{snap.namespace} do not resolve; only {target} does",
            f"Use the fully qualified name {target}, or add searches {ns_of(pod)}.svc.cluster.local, "
            f"svc.cluster.local, cluster.local to the client's dnsConfig, or:\n{fix}",
            [
                Evidence(
                    "Pod",
                    ns_of(pod),
                    name_of(pod),
                    "spec.dnsConfig.searches",
                    ", ".join(searches) or "<none>",
                    f"{ns_of(pod)}.svc.cluster.local, svc.cluster.local, cluster.local",
                )
            ],
        )


def _dns_read(snap: Snapshot) -> str | None:
    if not snap.data.cluster_dns_read:
        if snap.data.cluster_dns_gap:
            return f"the cluster DNS could not be read ({snap.data.cluster_dns_gap})"
        return "the cluster DNS is read with --from (and by audit when kube-system is in scope)"
    return None


@check(
    id="KD605",
    applies=_dns_read,
    category=Category.CLUSTER_DNS_UNAVAILABLE,
    stage=Stage.NETWORK_POLICY,
    title="The cluster DNS has a ready endpoint",
    needs=[Kind.SERVICE, Kind.ENDPOINTSLICE],
    independent=True,
    what="""
Finds the cluster DNS Service (kube-system, labelled `k8s-app=kube-dns`) and counts the ready endpoints of
its EndpointSlices. Read with `--from` (critical when the client uses the cluster DNS) and by `audit` when
kube-system is in scope (a warning on every Service: none of their names resolves). Reading kube-system is
optional: forbidden, the check is skipped with the permission.""",
    why="""
Every `ClusterFirst` pod sends its queries to the cluster DNS Service's ClusterIP. With no ready endpoint
there, every lookup times out (`connection timed out; no servers could be reached`): clients fail on the
Service's name while its own endpoints are fine, and so does every other name in the cluster.""",
    example="""
# CoreDNS scaled to zero (or crash-looping, or unschedulable)
kubectl -n kube-system scale deployment coredns --replicas=0""",
    fix="""
Bring the DNS pods back: `kubectl -n kube-system get deployment,pods -l k8s-app=kube-dns`, then e.g.
`kubectl -n kube-system scale deployment coredns --replicas=2` if it was scaled to zero, or diagnose it as
any Service: `kubediag svc kube-dns -n kube-system`.""",
)
def cluster_dns_available(snap: Snapshot) -> Iterator[Finding]:
    services = cluster_dns_services(snap.data)
    if not services:
        raise NotApplicable(
            f"no Service labelled {DNS_SELECTOR} in {DNS_NAMESPACE}: the cluster DNS is not known"
        )
    states = []
    for svc in services:
        slices = snap.data.slices_by_service.get((DNS_NAMESPACE, name_of(svc)), ())
        ready = ready_endpoints(slices)
        if ready:
            return  # one working cluster DNS Service answers
        states.append((svc, slices, listed_endpoints(slices)))
    svc, slices, listed = states[0]
    ips = ", ".join(cluster_ips(svc)) or "no ClusterIP"
    pod = snap.client_pod if snap.client is not None else None
    severity = Severity.WARNING
    impact = f"no pod using the cluster DNS can resolve {snap.dns_name} (or any cluster name)"
    if pod is not None:
        uses = uses_cluster_dns(snap.data, pod)
        if uses:
            severity = Severity.CRITICAL
            impact = f"client {ns_of(pod)}/{name_of(pod)} cannot resolve {snap.dns_name} (queries time out)"
        elif uses is None:
            impact += f"; client {ns_of(pod)}/{name_of(pod)} may not use it (see KD604)"
        else:
            impact += f"; client {ns_of(pod)}/{name_of(pod)} does not use it (see KD604)"
    state = (
        f"its EndpointSlices list {listed} endpoint(s), none ready"
        if listed
        else ("its EndpointSlices list no endpoint" if slices else "it has no EndpointSlice")
    )
    workload = ""
    scale = f"kubectl -n {DNS_NAMESPACE} scale deployment coredns --replicas=2   # only if its replicas were set to 0"
    for d in _dns_deployments(snap):
        replicas = _replicas(d)
        workload = f"; deployment/{_name(d)} wants {replicas} replica(s)"
        if replicas == 0:
            scale = (
                f"kubectl -n {DNS_NAMESPACE} scale deployment {_name(d)} --replicas=2   # it was scaled to 0"
            )
        break
    yield cluster_dns_available.finding(
        severity,
        f"the cluster DNS Service {DNS_NAMESPACE}/{name_of(svc)} ({ips}) has no ready endpoint: {state}"
        f"{workload}: {impact}",
        f"kubectl -n {DNS_NAMESPACE} get deployment,pods -l {DNS_SELECTOR}   # scaled to zero? crash-looping? "
        f"pending?\nkubediag svc {name_of(svc)} -n {DNS_NAMESPACE}   # the DNS Service's own root cause\n{scale}",
        [
            Evidence(
                "Service",
                DNS_NAMESPACE,
                name_of(svc),
                "EndpointSlices ready endpoints",
                f"0 of {listed}",
                "at least one ready endpoint",
            )
        ],
    )


def _name(d: Deployment) -> str:
    return d.metadata.name


def _replicas(d: Deployment) -> int:
    return d.spec.replicas


def _dns_deployments(snap: Snapshot) -> list[Deployment]:
    """kube-system Deployments of the cluster DNS, when they were read (audit)."""
    if snap.data.missing(Kind.DEPLOYMENT) is not None:
        return []
    out = []
    for d in snap.data.by_namespace(Kind.DEPLOYMENT).get(DNS_NAMESPACE, ()):
        if d.metadata.labels.get("k8s-app") == "kube-dns":
            out.append(d)
    return sorted(out, key=_name)
