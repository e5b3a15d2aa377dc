"""Gateway API routes to the Service: do HTTPRoutes, GRPCRoutes, TLSRoutes, TCPRoutes and UDPRoutes name it
with a port it has, across namespaces only where a ReferenceGrant admits it, and are they accepted by
parents that exist and work?

The kinds are read only when API discovery says the cluster serves them (`gather.Client.discover`); on a
cluster without the Gateway API the checks are not applicable. Like the Ingress check, they are
independent: a route naming the wrong port is broken whatever the state of the pods.

Besides the checks, this module gives pure helpers to the gatherer (`route_kinds_for`, `routes_to`), the
missing-Service hint of KD101 (`route_referrers`) and the cluster-wide audit findings (`route_backend_gaps`).
"""

from __future__ import annotations

import datetime
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubediag.checks.base import check
from kubediag.kinds import ROUTE_KINDS, SPECS
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage, Unavailable
from kubediag.objects import (
    GATEWAY_GROUP,
    BackendRef,
    Condition,
    Gateway,
    GatewayClass,
    ParentReference,
    ReferenceGrant,
    Route,
    RouteParentStatus,
    ServicePort,
    conditions_get,
)
from kubediag.snapshot import ClusterData, Snapshot

# A route older than this (by the API server's clock) with no status from any controller is reported; a
# younger one only noted (a controller may not have acted yet).
STATUS_GRACE_SECONDS = 60

# ---- which route kinds `svc` reads for a Service ------------------------------------------------------------
# `svc` has a budget of 8 requests for a healthy Service: HTTPRoutes are always read (when served); the
# other route kinds only for Services with a port that suggests their protocol. `audit` reads every kind.
_GRPC = ("grpc", "h2c")
_TLS = ("https", "tls")
_HTTP = ("http", "h2c", "grpc", "web", "ws")
_TCP_NAMES = (
    "tcp",
    "postgres",
    "mysql",
    "mariadb",
    "redis",
    "mongo",
    "kafka",
    "amqp",
    "mqtt",
    "zookeeper",
    "cassandra",
    "cql",
    "memcache",
    "smtp",
    "ssh",
    "ldap",
    "nats",
    "db",
)
_TCP_PORTS = frozenset({22, 25, 389, 1433, 1521, 2181, 3306, 5432, 5672, 6379, 9042, 9092, 11211, 27017})
_TLS_PORTS = frozenset({443, 8443})


def route_kinds_for(ports: Iterable[ServicePort]) -> list[Kind]:
    """The route kinds worth a request for a Service with these ports: HTTPRoute always; GRPCRoute for a port
    named or `appProtocol` grpc/h2c; TLSRoute for https/tls or 443/8443; TCPRoute for tcp-* or a well-known
    database or broker port; UDPRoute for a UDP port."""
    kinds = [Kind.HTTPROUTE]
    for p in ports:
        name = p.name.lower()
        app = p.app_protocol.lower().removeprefix("kubernetes.io/")
        number = p.port
        proto = p.protocol
        hints = (name, app)
        if proto == "UDP":
            kinds.append(Kind.UDPROUTE)
            continue
        if proto != "TCP":
            continue
        if any(h.startswith(_GRPC) for h in hints):
            kinds.append(Kind.GRPCROUTE)
        if any(h.startswith(_TLS) for h in hints) or number in _TLS_PORTS:
            kinds.append(Kind.TLSROUTE)
        http_like = any(h.startswith(_HTTP) for h in hints)
        if not http_like and (any(h.startswith(_TCP_NAMES) for h in hints if h) or number in _TCP_PORTS):
            kinds.append(Kind.TCPROUTE)
    return list(dict.fromkeys(kinds))


# ---- the backendRefs that name a Service ------------------------------------------------------------------
@dataclass(frozen=True)
class RouteBackend:
    """One backendRef of a route that names a Service (core group, kind Service)."""

    kind: Kind
    route: Route
    rule: int
    index: int
    ref: BackendRef

    @property
    def route_kind(self) -> str:
        return SPECS[self.kind].kind

    @property
    def route_ns(self) -> str:
        return self.route.metadata.namespace

    @property
    def route_name(self) -> str:
        return self.route.metadata.name

    @property
    def namespace(self) -> str:
        """The Service's namespace: the ref's, else the route's."""
        return self.ref.namespace or self.route_ns

    @property
    def label(self) -> str:
        return f"{self.route_kind} {self.route_ns}/{self.route_name}"

    @property
    def where(self) -> str:
        return f"spec.rules[{self.rule}].backendRefs[{self.index}]"

    @property
    def pointer(self) -> str:
        return f"/spec/rules/{self.rule}/backendRefs/{self.index}"

    @property
    def rule_text(self) -> str:
        rule = self.route.spec.rules[self.rule]
        hosts = ",".join(self.route.spec.hostnames)
        return (f"{hosts} " if hosts else "") + f"rule {self.rule}" + (f" ({rule.name})" if rule.name else "")

    @property
    def port_text(self) -> str:
        return f"port {self.ref.port}" if self.ref.port is not None else "no port"

    @property
    def resource(self) -> str:
        """The name kubectl knows the route kind by."""
        return self.route_kind.lower()


def is_service_ref(ref: BackendRef) -> bool:
    return ref.group in ("", "core") and ref.kind == "Service"


def backends(kind: Kind, route: Route) -> Iterator[RouteBackend]:
    for i, rule in enumerate(route.spec.rules):
        for j, ref in enumerate(rule.backend_refs):
            if is_service_ref(ref) and ref.name:
                yield RouteBackend(kind, route, i, j, ref)


def _index(data: ClusterData) -> Mapping[tuple[str, str], tuple[RouteBackend, ...]]:
    """(namespace, Service name) -> every route backendRef naming it, over every route kind read. Built once."""
    key = ("route_backends",)
    if key not in data.memo:
        out: dict[tuple[str, str], list[RouteBackend]] = defaultdict(list)
        for kind in ROUTE_KINDS:
            for route in data.of(kind):
                for b in backends(kind, route):
                    out[(b.namespace, b.ref.name)].append(b)
        data.memo[key] = {k: tuple(v) for k, v in out.items()}
    return data.memo[key]  # type: ignore[no-any-return]


def routes_to(data: ClusterData, namespace: str, name: str) -> tuple[RouteBackend, ...]:
    """Every backendRef (of every route kind read) that names Service namespace/name."""
    return _index(data).get((namespace, name), ())


def _routes(refs: Iterable[RouteBackend]) -> list[tuple[Kind, Route]]:
    seen: dict[tuple[Kind, str, str], tuple[Kind, Route]] = {}
    for b in refs:
        seen.setdefault((b.kind, b.route_ns, b.route_name), (b.kind, b.route))
    return [seen[k] for k in sorted(seen, key=lambda k: (SPECS[k[0]].kind, k[1], k[2]))]


def _kinds_text(kinds: Iterable[Kind]) -> str:
    return ", ".join(SPECS[k].kind + "s" for k in kinds)


def route_skip_reason(snap: Snapshot) -> str | None:
    """Why there is no route to judge (the API is not served, or no route read names the Service: which
    kinds were read, which were not), or None: KD804/KD805's precondition (`applies`)."""
    data = snap.data
    served = [k for k in ROUTE_KINDS if k not in data.unserved]
    if not served:
        return "the cluster does not serve Gateway API routes (no gateway.networking.k8s.io CRDs)"
    if routes_to(data, snap.namespace, snap.name):
        return None
    kinds, tail = _no_route_reason(data, tuple(served))
    return f"no {kinds} names Service {snap.namespace}/{snap.name}{tail}"


def _no_route_reason(data: ClusterData, served: tuple[Kind, ...]) -> tuple[str, str]:
    """The route kinds read ("HTTPRoute or GRPCRoute") and what follows the Service's name in the reason
    (kinds not read, kinds read in part): the same for every Service of the data, so built once."""
    key = ("route-skip-reason", served)
    if key not in data.memo:
        read = [k for k in served if data.missing(k) is None]
        partial = "; ".join(f"{SPECS[k].kind}s: {data.partial[k]}" for k in read if k in data.partial)
        unread = [k for k in served if data.missing(k) is not None]
        tail = ""
        if unread:
            gaps = [m for k in unread if (m := data.missing(k)) is not None and m.reason != "not-read"]
            if gaps:
                tail += f"; {_kinds_text(unread)} not read ({'; '.join(m.describe() for m in gaps)})"
            else:
                tail += f" (svc reads {_kinds_text(unread)} only for ports that suggest their protocol)"
        if partial:
            tail += f"; {partial}"
        data.memo[key] = (" or ".join(SPECS[k].kind for k in read) or "route", tail)
    return data.memo[key]  # type: ignore[no-any-return]


def _unread_note(snap: Snapshot) -> Finding | None:
    """An info line when some route kind could not be read (forbidden, failed) although others were."""
    gaps = [
        m for k in ROUTE_KINDS if k not in snap.data.unserved and (m := snap.data.missing(k)) is not None
    ]
    texts = [m.describe() for m in gaps if m.reason != "not-read"]
    texts += [f"{SPECS[k].kind}s: {why}" for k, why in snap.data.partial.items()]
    if not texts:
        return None
    return route_not_accepted.finding(
        Severity.INFO,
        "Routes were not all readable, so some that name this Service may not be judged: " + "; ".join(texts),
        "Grant get/list on the Gateway API route kinds cluster-wide (kubediag rbac)",
    )


def _service_ports(snap: Snapshot) -> str:
    return (
        ", ".join(
            f"{p.port}/{p.protocol}" + (f" ({p.name})" if p.name else "")
            for p in snap.ports
        )
        or "none"
    )


def _patch(b: RouteBackend, ops: Sequence[Mapping[str, Any]]) -> str:
    body = json.dumps(list(ops), separators=(",", ":"))
    return f"kubectl -n {b.route_ns} patch {b.resource} {b.route_name} --type=json -p '{body}'"


def _port_problem(snap: Snapshot, b: RouteBackend) -> tuple[str, int | None] | None:
    """(what is wrong, the Service port to use instead) or None when the port is one of the Service's."""
    ports = [p.port for p in snap.ports]
    only = ports[0] if len(ports) == 1 else None
    n = b.ref.port
    if n is None:
        return "it names no port (a Service backendRef must name a Service port)", only
    if n in ports:
        return None
    owner = next((p for p in snap.ports if p.target_port == n), None)
    if owner is not None:
        return (
            f"{n} is the targetPort of Service port {owner.port}: a backendRef names the Service port, "
            "not the container port",
            owner.port,
        )
    return f"the Service has no port {n}", only


# ---- ReferenceGrants ----------------------------------------------------------------------------------------
def grant_admits(grant: ReferenceGrant, route_kind: str, route_ns: str, service: str) -> bool:
    """Whether a ReferenceGrant (in the Service's namespace) admits routes of `route_kind` from `route_ns`
    to Service `service`."""
    came = any(
        f.group == GATEWAY_GROUP and f.kind == route_kind and f.namespace == route_ns for f in grant.spec.from_
    )
    goes = any(t.group in ("", "core") and t.kind == "Service" and t.name in ("", service) for t in grant.spec.to)
    return came and goes


def _grant_name(b: RouteBackend) -> str:
    name = re.sub(r"[^a-z0-9-]", "-", f"{b.route_kind.lower()}-{b.route_ns}-to-{b.ref.name}")
    return name[:63].strip("-")


def grant_manifest(b: RouteBackend, version: str) -> str:
    return (
        f"Create ReferenceGrant {b.namespace}/{_grant_name(b)} (it admits only {b.route_kind}s from namespace "
        f"{b.route_ns}, and only to Service {b.ref.name}):\n"
        "kubectl apply -f - <<'EOF'\n"
        f"apiVersion: {GATEWAY_GROUP}/{version}\n"
        "kind: ReferenceGrant\n"
        "metadata:\n"
        f"  name: {_grant_name(b)}\n"
        f"  namespace: {b.namespace}\n"
        "spec:\n"
        "  from:\n"
        f"  - group: {GATEWAY_GROUP}\n"
        f"    kind: {b.route_kind}\n"
        f"    namespace: {b.route_ns}\n"
        "  to:\n"
        '  - group: ""\n'
        "    kind: Service\n"
        f"    name: {b.ref.name}\n"
        "EOF"
    )


# ---- KD804 --------------------------------------------------------------------------------------------------
@check(
    id="KD804",
    applies=route_skip_reason,
    category=Category.ROUTE_BACKEND_INVALID,
    stage=Stage.EXPOSURE,
    title="Gateway API routes name this Service with a port it has, across namespaces only with a grant",
    needs=[Kind.SERVICE, Kind.HTTPROUTE],
    independent=True,
    what="""
For every Gateway API route (HTTPRoute, GRPCRoute, TLSRoute, TCPRoute, UDPRoute) whose `backendRefs` name
this Service (core group, kind Service, in the route's namespace or an explicit `namespace`): the `port` must
be one of the Service's `spec.ports[].port` (a frequent slip is the targetPort, 8080 instead of 80); a
reference from another namespace needs a ReferenceGrant in the Service's namespace that admits the route's
kind and namespace. Backends with `weight: 0` are noted (the rule's other backends take all its traffic), and
a rule whose backends all weigh 0 is reported. Read only when API discovery shows the cluster serves
`gateway.networking.k8s.io`; `svc` reads HTTPRoutes always and the other route kinds for ports that suggest
their protocol (grpc/h2c, https/tls or 443, tcp-* or a database port, UDP); `audit` reads every kind.""",
    why="""
The gateway resolves a Service backendRef to a Service port. A port the Service does not have, or a
cross-namespace reference no ReferenceGrant admits (`ResolvedRefs=False`, reason `BackendNotFound` or
`RefNotPermitted`), makes that backend invalid: the Gateway API requires implementations to answer 500 for
the requests that would have gone to it, while the Service itself works in the cluster.""",
    example="""
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra}]
  rules:
  - backendRefs: [{name: store, port: 8080}]   # Service store: port 80 -> targetPort 8080""",
    fix="""
Name the Service port:
`kubectl -n shop patch httproute store --type=json -p '[{"op":"replace","path":"/spec/rules/0/backendRefs/0/port","value":80}]'`.
For a route in another namespace, create the ReferenceGrant kubediag prints in the Service's namespace (it
admits only that route kind and namespace, and only this Service).""",
)
def route_backend_invalid(snap: Snapshot) -> Iterator[Finding]:
    refs = routes_to(snap.data, snap.namespace, snap.name)  # some: `route_skip_reason`
    data = snap.data
    ns = snap.namespace
    grant_version = data.served_versions.get(Kind.REFERENCEGRANT, "v1beta1")
    grants = data.by_namespace(Kind.REFERENCEGRANT).get(ns, ())
    grants_missing = data.missing(Kind.REFERENCEGRANT)
    if grants_missing is None and not data.covers(Kind.REFERENCEGRANT, ns):
        grants_missing = Unavailable(Kind.REFERENCEGRANT, "not-read", f"not read in namespace {ns}")
    for b in refs:
        # the port: an ExternalName Service without ports is dialled on whatever port the route names
        if not (snap.svc_type == "ExternalName" and not snap.ports):
            problem = _port_problem(snap, b)
            if problem is not None:
                what, better = problem
                fix = (
                    _patch(b, [{"op": "add" if b.ref.port is None else "replace", "path": b.pointer + "/port", "value": better}])
                    if better is not None
                    else f"Set {b.where}.port of {b.label} to one of the Service ports: {_service_ports(snap)}"
                )
                yield route_backend_invalid.finding(
                    Severity.CRITICAL,
                    f"{b.label} sends {b.rule_text} to Service {snap.name} {b.port_text}, but {what} (Service "
                    f"ports: {_service_ports(snap)}): that backend is invalid and the gateway answers 500 for "
                    "the requests it would get",
                    fix,
                    [
                        Evidence(
                            b.route_kind,
                            b.route_ns,
                            b.route_name,
                            f"{b.where}.port",
                            str(b.ref.port) if b.ref.port is not None else "<none>",
                            f"a port of Service {snap.name}: {_service_ports(snap)}",
                        ),
                        Evidence("Service", ns, snap.name, "spec.ports", _service_ports(snap), b.port_text),
                    ],
                )
        # the namespace: a reference from another namespace needs a ReferenceGrant here
        if b.route_ns != ns:
            if grants_missing is not None:
                yield route_backend_invalid.finding(
                    Severity.INFO,
                    f"{b.label} names Service {ns}/{snap.name} from another namespace; whether a ReferenceGrant "
                    f"admits it is unknown: ReferenceGrants could not be read ({grants_missing.describe()})",
                    f"kubectl -n {ns} get referencegrants -o yaml",
                )
            elif not any(grant_admits(g, b.route_kind, b.route_ns, snap.name) for g in grants):
                others = ", ".join(sorted(g.metadata.name for g in grants))
                yield route_backend_invalid.finding(
                    Severity.CRITICAL,
                    f"{b.label} sends {b.rule_text} to Service {ns}/{snap.name} across namespaces, but no "
                    f"ReferenceGrant in namespace {ns} admits {b.route_kind}s from namespace {b.route_ns} "
                    + (f"(grants there: {others}, none matching)" if others else "(there is none)")
                    + f": the reference is not permitted (RefNotPermitted) and the gateway answers 500 for "
                    f"that backend; missing: ReferenceGrant {ns}/{_grant_name(b)}",
                    grant_manifest(b, grant_version),
                    [
                        Evidence(
                            b.route_kind,
                            b.route_ns,
                            b.route_name,
                            f"{b.where}.namespace",
                            ns,
                            f"a ReferenceGrant in {ns} admitting {b.route_kind} from {b.route_ns}",
                        ),
                        Evidence(
                            "ReferenceGrant",
                            ns,
                            _grant_name(b),
                            "spec.from",
                            others or "no ReferenceGrant",
                            f"{{group: {GATEWAY_GROUP}, kind: {b.route_kind}, namespace: {b.route_ns}}}",
                        ),
                    ],
                )
        # the weight
        if b.ref.weight == 0:
            rule = b.route.spec.rules[b.rule]
            rest = sum(r.weight for k, r in enumerate(rule.backend_refs) if k != b.index)
            if rest > 0:
                yield route_backend_invalid.finding(
                    Severity.INFO,
                    f"{b.label} {b.rule_text} gives Service {snap.name} weight 0: the rule's other backends take "
                    "all its traffic",
                    _patch(b, [{"op": "replace", "path": b.pointer + "/weight", "value": 1}])
                    + "   # if it should receive traffic",
                )
            else:
                yield route_backend_invalid.finding(
                    Severity.WARNING,
                    f"{b.label} {b.rule_text}: every backend weighs 0 (Service {snap.name} included), so the "
                    "rule has no backend to send to and the gateway answers 500",
                    _patch(b, [{"op": "replace", "path": b.pointer + "/weight", "value": 1}]),
                    [Evidence(b.route_kind, b.route_ns, b.route_name, f"{b.where}.weight", "0", "> 0")],
                )


# ---- KD805 --------------------------------------------------------------------------------------------------
def _parse_time(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except ValueError:
        return None


def age_seconds(created: str, now: str) -> int | None:
    """Seconds from `created` to the API server's clock `now` (both RFC 3339), or None when either is unknown."""
    a, b = _parse_time(created), _parse_time(now)
    return int((b - a).total_seconds()) if a and b else None


def _same_parent(a: ParentReference, b: ParentReference, route_ns: str) -> bool:
    return (
        a.group == b.group
        and a.kind == b.kind
        and a.name == b.name
        and (a.namespace or route_ns) == (b.namespace or route_ns)
        and a.section_name == b.section_name
        and a.port == b.port
    )


def _cond_text(c: Condition) -> str:
    from kubediag.checks.pods import quote

    return f"{c.type}={c.status}" + (f" ({c.reason})" if c.reason else "") + (
        f": {quote(c.message)}" if c.message else ""
    )


def _parent_label(p: ParentReference, route_ns: str) -> str:
    section = f" listener {p.section_name}" if p.section_name else ""
    return f"{p.kind} {p.namespace or route_ns}/{p.name}{section}"


def _is_gateway(p: ParentReference) -> bool:
    return p.group == GATEWAY_GROUP and p.kind == "Gateway"


@dataclass(frozen=True)
class _ParentProblem:
    text: str
    evidence: Evidence
    fix: str


def _gateway_problems(
    data: ClusterData, p: ParentReference, route_ns: str
) -> tuple[list[_ParentProblem], bool]:
    """What is wrong with a parent Gateway (missing, not Programmed, its class missing or not Accepted), and
    whether the Gateways could be read at all."""
    gw_ns = p.namespace or route_ns
    if not data.covers(Kind.GATEWAY, gw_ns):  # not read there (forbidden, or outside audit's namespaces)
        return [], False
    gw: Gateway | None = next(
        (g for g in data.by_namespace(Kind.GATEWAY).get(gw_ns, ()) if g.metadata.name == p.name), None
    )
    if gw is None:
        return [
            _ParentProblem(
                f"its parent Gateway {gw_ns}/{p.name} does not exist",
                Evidence("Gateway", gw_ns, p.name, "metadata.name", "not found", "the parent Gateway"),
                f"kubectl get gateways -A   # then point parentRefs at an existing Gateway, or create {gw_ns}/{p.name}",
            )
        ], True
    out: list[_ParentProblem] = []
    if p.section_name and p.section_name not in {ln.name for ln in gw.spec.listeners}:
        out.append(
            _ParentProblem(
                f"Gateway {gw_ns}/{p.name} has no listener {p.section_name!r} "
                f"(listeners: {', '.join(ln.name for ln in gw.spec.listeners) or 'none'})",
                Evidence("Gateway", gw_ns, p.name, "spec.listeners[].name", ", ".join(ln.name for ln in gw.spec.listeners), p.section_name),
                f"kubectl -n {gw_ns} get gateway {p.name} -o yaml   # fix the route's parentRefs sectionName",
            )
        )
    listeners = [ln for ln in gw.spec.listeners if not p.section_name or ln.name == p.section_name]
    if route_ns != gw_ns and listeners and all(ln.allowed_routes.namespaces.from_ == "Same" for ln in listeners):
        names = ", ".join(ln.name for ln in listeners)
        out.append(
            _ParentProblem(
                f"the route is in namespace {route_ns} but Gateway {gw_ns}/{p.name}'s listener(s) {names} admit "
                "routes only from the Gateway's own namespace (allowedRoutes.namespaces.from: Same, the "
                "default), so the route is not allowed to attach (NotAllowedByListeners)",
                Evidence(
                    "Gateway",
                    gw_ns,
                    p.name,
                    "spec.listeners[].allowedRoutes.namespaces.from",
                    "Same",
                    f"All, or a Selector matching namespace {route_ns}",
                ),
                f"kubectl -n {gw_ns} edit gateway {p.name}   # set allowedRoutes.namespaces on listener(s) {names} "
                f"to from: Selector with a selector matching namespace {route_ns} (or from: All)",
            )
        )
    programmed = conditions_get(gw.status.conditions, "Programmed")
    if programmed is None or programmed.status != "True":
        cls_name = gw.spec.gateway_class_name
        observed = _cond_text(programmed) if programmed else "no Programmed condition"
        cls_problem = ""
        if data.missing(Kind.GATEWAYCLASS) is None:
            cls: GatewayClass | None = next(
                (c for c in data.of(Kind.GATEWAYCLASS) if c.metadata.name == cls_name), None
            )
            if cls is None:
                cls_problem = f"; its GatewayClass {cls_name!r} does not exist, so no controller implements it"
            else:
                accepted = conditions_get(cls.status.conditions, "Accepted")
                if accepted is None or accepted.status != "True":
                    cls_problem = (
                        f"; its GatewayClass {cls_name} (controller {cls.spec.controller_name or '?'}) is not "
                        f"accepted: {_cond_text(accepted) if accepted else 'no Accepted condition'}, so no "
                        "controller runs for it"
                    )
        out.append(
            _ParentProblem(
                f"its parent Gateway {gw_ns}/{p.name} is not Programmed ({observed}){cls_problem}",
                Evidence("Gateway", gw_ns, p.name, "status.conditions[Programmed]", observed, "Programmed=True"),
                f"kubectl -n {gw_ns} describe gateway {p.name}"
                + (f"\nkubectl describe gatewayclass {cls_name}   # is its controller installed and running?" if cls_name else ""),
            )
        )
    return out, True


@check(
    id="KD805",
    applies=route_skip_reason,
    category=Category.ROUTE_NOT_ACCEPTED,
    stage=Stage.EXPOSURE,
    title="Gateway API routes to this Service are accepted by parents that exist and work",
    needs=[Kind.SERVICE, Kind.HTTPROUTE],
    independent=True,
    what="""
For every route that names this Service, per parent (`spec.parentRefs`): a parent Gateway must exist, be
`Programmed` (when it is not, its GatewayClass is read and must exist and be `Accepted`), the listener a
`sectionName` names must exist, and for a route in another namespace the listeners' `allowedRoutes` must not
be `from: Same` (the default); the route's `status.parents` entry written by the controller must not say
`Accepted=False` or `ResolvedRefs=False` (reason and message quoted: NotAllowedByListeners, NoMatchingParent,
BackendNotFound, RefNotPermitted, InvalidKind...). A route with no status from any controller is reported
once it is older than a minute by the API server's clock (taken from its responses), and a route without
parentRefs attaches to nothing.""",
    why="""
A route is only programmed into a gateway once a controller accepts it for a parent. A missing or
unprogrammed Gateway, a GatewayClass no controller accepts, or a rejected route means the external path
through the Gateway does not exist, while the Service still works inside the cluster: a warning.""",
    example="""
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: public}]         # no Gateway shop/public exists
  rules: [{backendRefs: [{name: store, port: 80}]}]
status: {parents: []}                  # no controller has written status""",
    fix="""
Point `parentRefs` at an existing Gateway (`kubectl get gateways -A`), install or fix the controller of its
GatewayClass (`kubectl describe gatewayclass NAME`), and act on the quoted condition message
(`kubectl -n shop describe httproute store`).""",
)
def route_not_accepted(snap: Snapshot) -> Iterator[Finding]:
    refs = routes_to(snap.data, snap.namespace, snap.name)  # some: `route_skip_reason`
    data = snap.data
    if (note := _unread_note(snap)) is not None:
        yield note
    for kind, route in _routes(refs):
        rk, rns, rname = SPECS[kind].kind, route.metadata.namespace, route.metadata.name
        label = f"{rk} {rns}/{rname}"
        describe = f"kubectl -n {rns} describe {rk.lower()} {rname}"
        age = age_seconds(route.metadata.creation_timestamp, data.server_time)
        if not route.spec.parent_refs:
            yield route_not_accepted.finding(
                Severity.WARNING,
                f"{label} routes to Service {snap.namespace}/{snap.name} but has no parentRefs: it is attached to "
                "no Gateway, so no traffic arrives through it",
                f"Add the Gateway to spec.parentRefs of {label}: kubectl get gateways -A",
                [Evidence(rk, rns, rname, "spec.parentRefs", "[]", "a parent Gateway")],
            )
            continue
        gateways_unknown = ""
        for parent in route.spec.parent_refs:
            plabel = _parent_label(parent, rns)
            problems: list[_ParentProblem] = []
            status: RouteParentStatus | None = next(
                (s for s in route.status.parents if _same_parent(s.parent_ref, parent, rns)), None
            )
            accepted = status is not None and getattr(
                conditions_get(status.conditions, "Accepted"), "status", ""
            ) == "True"
            if _is_gateway(parent):
                found, readable = _gateway_problems(data, parent, rns)
                # a controller that accepted the route knows better than a reading of the listeners
                problems += [f for f in found if not (accepted and "allowedRoutes" in f.evidence.field)]
                if not readable:
                    m = data.missing(Kind.GATEWAY)
                    gateways_unknown = (
                        m.describe()
                        if m is not None
                        else f"Gateways were not read in namespace {parent.namespace or rns}"
                    )
            if status is not None:
                for ctype in ("Accepted", "ResolvedRefs"):
                    c = conditions_get(status.conditions, ctype)
                    if c is not None and c.status == "False":
                        problems.append(
                            _ParentProblem(
                                f"{status.controller_name or 'its controller'} reports {_cond_text(c)}",
                                Evidence(rk, rns, rname, f"status.parents[{plabel}].conditions[{ctype}]", f"False ({c.reason})", "True"),
                                describe,
                            )
                        )
            elif not problems:
                if age is not None and age < STATUS_GRACE_SECONDS:
                    yield route_not_accepted.finding(
                        Severity.INFO,
                        f"{label}: no controller has written status for parent {plabel} yet (the route is {age}s "
                        "old)",
                        describe,
                    )
                    continue
                when = f" in the {age // 60} min since it was created" if age is not None else ""
                problems.append(
                    _ParentProblem(
                        f"no controller has written status for parent {plabel}{when}: no controller implements "
                        "that parent's GatewayClass, or none watches it",
                        Evidence(rk, rns, rname, "status.parents", "no entry for " + plabel, "a status from the controller"),
                        describe
                        + (f"\nkubectl -n {parent.namespace or rns} get gateway {parent.name} -o yaml" if _is_gateway(parent) else ""),
                    )
                )
            if problems:
                yield route_not_accepted.finding(
                    Severity.WARNING,
                    f"{label} (routing to Service {snap.namespace}/{snap.name}) is not in service through "
                    f"{plabel}: " + "; ".join(p.text for p in problems) + "; traffic from inside the cluster "
                    "still reaches the Service",
                    "\n".join(dict.fromkeys(p.fix for p in problems)),
                    [p.evidence for p in problems],
                )
        if gateways_unknown:
            yield route_not_accepted.finding(
                Severity.INFO,
                f"{label}: whether its parent Gateways exist and are Programmed is unknown ({gateways_unknown})",
                "kubectl get gateways -A",
            )


# ---- the missing Service (KD101) and the cluster-wide audit -------------------------------------------------
def route_referrers(snap: Snapshot, limit: int = 5) -> list[str]:
    """Hint lines for a missing Service: the routes whose backendRefs name it."""
    refs = routes_to(snap.data, snap.namespace, snap.name)
    seen: list[str] = []
    for b in refs:
        line = f"{b.label} sends {b.rule_text} to it ({b.port_text})"
        if line not in seen:
            seen.append(line)
    if not seen:
        return []
    more = f" and {len(seen) - limit} more" if len(seen) > limit else ""
    return ["routes that reference it: " + "; ".join(seen[:limit]) + more]


@dataclass(frozen=True)
class BackendGap:
    """A route backendRef naming a Service that does not exist, or a port that Service does not have."""

    backend: RouteBackend
    problem: str  # "missing-service" | "missing-port"
    text: str


def route_backend_gaps(data: ClusterData, judged_namespaces: Iterable[str] | None) -> list[BackendGap]:
    """Every route backendRef (of the route kinds read) whose Service does not exist or lacks the port.
    `judged_namespaces`: where every Service was read (None: everywhere); refs into other namespaces are not
    judged (absence there is not known)."""
    judged = None if judged_namespaces is None else set(judged_namespaces)
    services = data.services_by_key
    out: list[BackendGap] = []
    for (ns, name), refs in sorted(_index(data).items()):
        if judged is not None and ns not in judged:
            continue
        svc = services.get((ns, name))
        for b in refs:
            if svc is None:
                out.append(BackendGap(b, "missing-service", f"{b.label} {b.rule_text} -> Service {ns}/{name} (does not exist)"))
                continue
            spec = svc.spec
            if spec.type == "ExternalName" and not spec.ports:
                continue
            ports = [p.port for p in spec.ports]
            if b.ref.port not in ports:
                out.append(
                    BackendGap(
                        b,
                        "missing-port",
                        f"{b.label} {b.rule_text} -> Service {ns}/{name} {b.port_text} (ports: "
                        f"{', '.join(map(str, ports)) or 'none'})",
                    )
                )
    return out
