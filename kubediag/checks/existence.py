"""Existence and spec: does the Service exist, and can its spec produce endpoints at all?"""

from __future__ import annotations

from collections.abc import Iterator

from kubediag.checks.base import NotApplicable, check
from kubediag.checks.callers import consumers_of_missing, unreadable
from kubediag.checks.consumers import likely_meant
from kubediag.checks.routes import route_referrers
from kubediag.labels import labels_of
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Deployment, Service
from kubediag.remedy import expose_command
from kubediag.snapshot import Snapshot, name_of, ns_of
from kubediag.text import closest, is_dns1123_subdomain, is_ip_address


@check(
    id="KD101",
    category=Category.SERVICE_NOT_FOUND,
    stage=Stage.EXISTENCE,
    title="The Service exists",
    needs=[Kind.SERVICE],
    what="""
GETs the Service by name in the namespace. When it is missing, looks for a Service of that name in other
namespaces (short names resolve only in the client's own namespace), for close names in this namespace
(`api-svc` for `api`), for a Deployment of that name (and whether another Service already selects its pods),
and names what calls the missing Service: Ingresses of the namespace that route to it, admission webhooks
and APIServices whose backend it is.""",
    why="""
Clients resolve `name.namespace.svc.cluster.local`; with no Service there is no DNS record and no virtual IP:
`could not resolve host` / NXDOMAIN, and an Ingress pointing at it answers 503.""",
    example="""
# A Deployment and no Service at all
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}""",
    fix="""
Create the Service on the port its clients dial (`kubectl -n shop expose deployment/web --port=8080
--target-port=8080` when they call `web:8080`; kubediag reads that port from client env, commands and Ingress
backends, else takes the declared containerPort and says so), or call the
Service by its namespace-qualified name (`web.other-namespace`) when it lives elsewhere.""",
)
def service_exists(snap: Snapshot) -> Iterator[Finding]:
    if snap.service is not None:
        return
    data = snap.data
    hints: list[str] = []
    evidence = [Evidence("Service", snap.namespace, snap.name, "metadata.name", "not found", "a Service")]
    if snap.namespace in data.missing_namespaces:
        others = closest(
            snap.namespace,
            {ns_of(s) for s in data.lookalike_services}
            | set(data.lookalike_namespaces)
            | set(data.namespaces_by_name),
        )
        hints.append(
            f"namespace {snap.namespace} does not exist"
            + (f" (did you mean {', '.join(others)}?)" if others else "")
        )
        evidence = [Evidence("Namespace", None, snap.namespace, "metadata.name", "not found", "a namespace")]
    elsewhere = sorted(
        ns_of(s) for s in data.lookalike_services if name_of(s) == snap.name and ns_of(s) != snap.namespace
    )
    if elsewhere:
        hints.append(
            f"a Service named {snap.name} exists in namespace(s) {', '.join(elsewhere)}"
            f" (reach it as {snap.name}.{elsewhere[0]})"
        )
    local = [s for s in data.lookalike_services if ns_of(s) == snap.namespace]
    near = closest(snap.name, [name_of(s) for s in local])
    near += sorted(n for s in local if (n := name_of(s)) not in near and likely_meant(n, snap.name))
    if near:
        hints.append(f"close names in {snap.namespace}: {', '.join(near)}")
    consumer_hints, consumer_evidence = consumers_of_missing(snap)
    deploys = [
        d
        for d in data.deployments_by_ns.get(snap.namespace, ())
        if name_of(d) == snap.name
        or name_of(d)
        in closest(snap.name, [name_of(x) for x in data.deployments_by_ns.get(snap.namespace, ())])
    ]
    remediation = f"kubectl -n {snap.namespace} get services   # find the right name"
    exposing = _exposing_services(deploys[0], local) if deploys else []
    if exposing:
        d = deploys[0]
        other = exposing[0]
        hints.insert(  # the strongest hint: a Service here already serves the workload named like this one
            0,
            f"Service {other} selects the pods of deployment/{name_of(d)}"
            + (f": did you mean {other}?" if other in near else ""),
        )
        remediation = (
            f"Call the existing Service: {other}.{snap.namespace}.svc.cluster.local (change the client's URL "
            f"from {snap.name} to {other}), or create Service {snap.name} as a copy of {other}"
        )
        evidence.append(
            Evidence(
                "Service",
                snap.namespace,
                other,
                "spec.selector",
                ",".join(f"{k}={v}" for k, v in sorted(_selector(local, other).items())),
                f"the pods of deployment/{name_of(d)}",
            )
        )
    elif deploys:
        d = deploys[0]
        hints.append(f"deployment/{name_of(d)} exists but no Service exposes it")
        remediation = expose_command(data, snap.namespace, snap.name, d, f"deployment/{name_of(d)}")
        evidence.append(
            Evidence(
                "Deployment",
                snap.namespace,
                name_of(d),
                "metadata.name",
                name_of(d),
                f"a Service named {snap.name} selecting its pods",
            )
        )
    elif elsewhere:
        remediation = (
            f"use the qualified name {snap.name}.{elsewhere[0]}.svc.cluster.local from this namespace"
        )
    message = f"Service {snap.namespace}/{snap.name} does not exist"
    hints += consumer_hints
    hints.extend(route_referrers(snap))  # Gateway API routes whose backendRefs name it (checks/routes.py)
    evidence += consumer_evidence
    gaps = unreadable(snap, (Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK, Kind.APISERVICE))
    if gaps:
        hints.append(f"webhooks and APIServices that may call it could not be read ({'; '.join(gaps)})")
    if hints:
        message += ": " + "; ".join(hints)
    yield service_exists.finding(Severity.CRITICAL, message, remediation, evidence)


def _selector(services: list[Service], name: str) -> dict[str, str]:
    for s in services:
        if name_of(s) == name:
            return s.spec.selector
    return {}


def _exposing_services(deployment: Deployment, services: list[Service]) -> list[str]:
    """Services of the namespace whose selector matches the Deployment's pod template labels."""
    labels = deployment.spec.template.metadata.labels
    out = []
    for s in sorted(services, key=name_of):
        sel = _selector(services, name_of(s))
        if sel and all(labels.get(k) == v for k, v in sel.items()):
            out.append(name_of(s))
    return out


def _external_name(snap: Snapshot) -> str | None:
    return None if snap.svc_type == "ExternalName" else "not an ExternalName Service"


@check(
    id="KD102",
    applies=_external_name,
    category=Category.EXTERNALNAME_INVALID,
    stage=Stage.SPEC,
    title="An ExternalName is a valid DNS name",
    needs=[Kind.SERVICE],
    what="For `type: ExternalName`, `spec.externalName` must be a DNS name, not an IP address.",
    why="""
An ExternalName Service is only a DNS CNAME. An IP address in it becomes a CNAME to a name that does not
resolve, and HTTP/TLS clients send the wrong Host header and SNI.""",
    example="""
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {type: ExternalName, externalName: 10.0.0.5}""",
    fix="""
Use a DNS name in `externalName`. For an IP address, use a Service without a selector and an EndpointSlice
that lists the address.""",
)
def externalname_valid(snap: Snapshot) -> Iterator[Finding]:
    ext = snap.spec.external_name
    host = ext[:-1] if ext.endswith(".") else ext
    if is_ip_address(host):
        problem = "is an IP address"
    elif not is_dns1123_subdomain(host):
        problem = "is not a valid DNS name" if host else "is empty"
    else:
        return
    yield externalname_valid.finding(
        Severity.CRITICAL,
        f"ExternalName Service {snap.namespace}/{snap.name} points at {ext!r}, which {problem}",
        "Replace spec.externalName with a DNS name; for a fixed IP use a selectorless Service plus an "
        "EndpointSlice (labels: kubernetes.io/service-name: " + snap.name + ") listing the address.",
        [Evidence("Service", snap.namespace, snap.name, "spec.externalName", ext or "<empty>", "a DNS name")],
    )


def _selectorless(snap: Snapshot) -> str | None:
    if snap.svc_type == "ExternalName":
        return "an ExternalName Service has no endpoints by design"
    if snap.selector:
        return "the Service has a selector"
    return None


@check(
    id="KD103",
    applies=_selectorless,
    category=Category.SELECTORLESS_NO_ENDPOINTS,
    stage=Stage.SPEC,
    title="A selectorless Service has endpoints",
    needs=[Kind.SERVICE, Kind.ENDPOINTSLICE],
    what="""
A Service without a selector gets endpoints only from EndpointSlices (or Endpoints, mirrored into slices)
that someone manages by hand. Checks that such slices exist, list addresses, and name the Service's ports.""",
    why="""
With no selector the endpointslice controller never creates endpoints; without manual ones the virtual IP
has no backends and kube-proxy rejects connections.""",
    example="""
apiVersion: v1
kind: Service
metadata: {name: legacy-db, namespace: shop}
spec: {ports: [{port: 5432}]}   # no selector, and no EndpointSlice""",
    fix="""
Add the selector that matches the pods, or create an EndpointSlice labelled
`kubernetes.io/service-name: <service>` whose port names match the Service's port names.""",
)
def selectorless_endpoints(snap: Snapshot) -> Iterator[Finding]:
    slices = snap.slices
    addresses = [a for s in slices for e in s.endpoints for a in e.addresses]
    svc_port_names = {p.name for p in snap.ports}
    slice_port_names = {p.name for s in slices for p in s.ports}
    ev = Evidence(
        "Service", snap.namespace, snap.name, "spec.selector", "<none>", "a selector or manual EndpointSlices"
    )
    fix = (
        f"Add spec.selector to Service {snap.name}, or create an EndpointSlice with label "
        f"kubernetes.io/service-name={snap.name} listing the backend addresses and port names "
        f"{sorted(svc_port_names)}"
    )
    if not slices:
        yield selectorless_endpoints.finding(
            Severity.CRITICAL,
            f"Service {snap.namespace}/{snap.name} has no selector and no EndpointSlice: it has no backends",
            fix,
            [ev],
        )
    elif not addresses:
        yield selectorless_endpoints.finding(
            Severity.CRITICAL,
            f"Service {snap.namespace}/{snap.name} has no selector and its EndpointSlices list no addresses",
            fix,
            [
                ev,
                Evidence(
                    "EndpointSlice",
                    snap.namespace,
                    name_of(slices[0]),
                    "endpoints",
                    "[]",
                    "at least one address",
                ),
            ],
        )
    elif svc_port_names and not svc_port_names & slice_port_names:
        yield selectorless_endpoints.finding(
            Severity.CRITICAL,
            f"EndpointSlices of {snap.namespace}/{snap.name} name ports {sorted(slice_port_names)} but the Service "
            f"names {sorted(svc_port_names)}: no Service port has endpoints",
            f"Rename the EndpointSlice ports to {sorted(svc_port_names)} (names must match exactly)",
            [
                Evidence(
                    "EndpointSlice",
                    snap.namespace,
                    name_of(slices[0]),
                    "ports[].name",
                    ",".join(sorted(slice_port_names)),
                    ",".join(sorted(svc_port_names)),
                )
            ],
        )


@check(
    id="KD104",
    applies=_selectorless,
    category=Category.STALE_ENDPOINTS,
    stage=Stage.SPEC,
    title="Controller-managed endpoints point at pods that exist",
    needs=[Kind.SERVICE, Kind.ENDPOINTSLICE, Kind.POD],
    what="""
For a Service without a selector, finds EndpointSlices still managed by the endpointslice controller whose
endpoints reference pods that no longer exist.""",
    why="""
When a selector is removed, the controllers deliberately leave the last slices in place. Nothing updates them
again: traffic keeps going to IPs of pods that are gone (or reused by other pods).""",
    example="""
# kubectl patch svc web --type=json -p '[{"op":"remove","path":"/spec/selector"}]'
# then the pods are deleted: the slices keep listing their IPs""",
    fix="""
Restore the selector, or delete the stale slices:
`kubectl -n <ns> delete endpointslice -l kubernetes.io/service-name=<service>` and manage endpoints by hand.""",
)
def stale_endpoints(snap: Snapshot) -> Iterator[Finding]:
    managed = [
        s
        for s in snap.slices
        if labels_of(s).get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io"
    ]
    if not managed:
        raise NotApplicable("no controller-managed EndpointSlices")
    existing = {name_of(p) for p in snap.namespace_pods}
    refs = [
        (s, e, ref)
        for s in managed
        for e in s.endpoints
        if (ref := e.target_ref) is not None and ref.kind == "Pod"
    ]
    stale = [(s, e, ref) for s, e, ref in refs if ref.name not in existing]
    if not stale:
        return
    sev = Severity.CRITICAL if len(stale) == len(refs) else Severity.WARNING
    names = sorted({ref.name for _, _, ref in stale})
    yield stale_endpoints.finding(
        sev,
        f"Service {snap.namespace}/{snap.name} has no selector, but {len(stale)} of {len(refs)} endpoints in its "
        f"controller-managed EndpointSlices point at pods that no longer exist ({', '.join(names[:5])})",
        f"kubectl -n {snap.namespace} delete endpointslice -l kubernetes.io/service-name={snap.name}   "
        "# or restore spec.selector",
        [
            Evidence(
                "EndpointSlice",
                snap.namespace,
                name_of(s),
                "endpoints[].targetRef",
                f"pod/{ref.name} ({', '.join(e.addresses)})",
                "an existing pod",
            )
            for s, e, ref in stale[:5]
        ],
    )
