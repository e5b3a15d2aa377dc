"""Cluster-wide checks of `audit` (KDA04-KDA06): consumers that name a Service that does not exist.

KDA04 Ingress backends, KDA05 admission webhooks (validating and mutating), KDA06 APIServices. A Service
counts as missing only where the Services were listed completely: the namespace is in scope, the Services
were read, and no `-l` selector filtered them. Pure.
"""

from __future__ import annotations

from kubediag.checks.base import ClusterCheck, Fleet, cluster_check
from kubediag.checks.cluster import _listing
from kubediag.dependents import apiservice_refs, backend_services, webhook_refs, webhook_scope
from kubediag.model import Category, ClusterResult, Kind, Severity
from kubediag.snapshot import name_of, ns_of


def _gaps(fleet: Fleet, kinds: tuple[Kind, ...]) -> str:
    """Why absence cannot be told: a consumer kind or the Services unread, or the Services filtered."""
    gaps = [m.describe() for k in kinds if (m := fleet.data.missing(k)) is not None]
    services_gap = fleet.data.missing(Kind.SERVICE)
    if fleet.scope.label_selector:
        gaps.append(f"Services are filtered by -l {fleet.scope.label_selector}: absence cannot be told")
    elif services_gap is not None:
        gaps.append(f"Services could not be listed ({services_gap.describe()})")
    return "; ".join(gaps)


def _missing_service(fleet: Fleet, namespace: str, name: str) -> bool:
    scope = fleet.scope
    known = scope.namespaces is None or namespace in scope.namespaces
    return known and (namespace, name) not in fleet.data.services_by_key


def _conclude(
    chk: ClusterCheck, lines: list[str], objects: list[str], severity: Severity, fix: str
) -> ClusterResult:
    if not lines:
        return chk.passed("every one names an existing Service")
    return chk.failed(severity, "; ".join(lines), fix, list(dict.fromkeys(objects)))


@cluster_check(
    id="KDA04",
    category=Category.INGRESS_BACKEND_MISSING_SERVICE,
    title="Ingress backends name existing Services",
    needs=[Kind.INGRESS, Kind.SERVICE],
    what="""
Lists the Ingresses in scope whose default backend or rule backends name a Service that does not exist in
the Ingress's namespace. Skipped when Services were filtered with `-l` or could not be listed (absence
cannot be told).""",
    why="""
An Ingress backend naming a missing Service is accepted by the API server; the controller answers 503 (or
404) for that host/path until the Service exists.""",
    example="""
kind: Ingress
metadata: {name: storefront, namespace: shop}
spec:
  rules:
  - http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: cart-api, port: {number: 80}}}}]}
# no Service shop/cart-api""",
    fix="""
Create the Service (`kubediag svc NAME -n NS` names close names and the Deployment to expose), or point the
backend at the right Service.""",
)
def ingress_backend_missing_service(fleet: Fleet) -> ClusterResult:
    chk = ingress_backend_missing_service
    if gap := _gaps(fleet, (Kind.INGRESS,)):
        return chk.skipped("Ingress backends not judged", gap)
    broken: dict[str, list[str]] = {}
    for ing in sorted(fleet.data.ingresses, key=lambda i: (ns_of(i), name_of(i))):
        ns = ns_of(ing)
        if not fleet.scope.includes(ns):
            continue
        for _, svc in backend_services(ing):
            key = f"{ns}/{name_of(ing)}"
            if _missing_service(fleet, ns, svc) and svc not in broken.setdefault(key, []):
                broken[key].append(svc)
    broken = {k: v for k, v in broken.items() if v}
    lines = [f"Ingress {k} routes to Service {', '.join(v)}, which does not exist" for k, v in broken.items()]
    if lines:
        lines = [f"{len(lines)} Ingress(es) route to missing Services (those routes answer 503): {_listing(lines, 5)}"]
    return _conclude(
        chk,
        lines,
        [f"ingress/{k}" for k in broken],
        Severity.WARNING,
        "Create the Service, or point the backend at the right one (kubediag svc NAME -n NS names close "
        "names and the Deployment to expose)",
    )


@cluster_check(
    id="KDA05",
    category=Category.WEBHOOK_BACKEND_MISSING_SERVICE,
    title="Admission webhooks call existing Services",
    needs=[Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK, Kind.SERVICE],
    what="""
Lists the validating and mutating admission webhooks whose `clientConfig.service` names a Service that
does not exist (in a namespace whose Services were listed completely).""",
    why="""
The API server calls the webhook for every matching write. With `failurePolicy: Fail` (the default) every
such write is rejected while the Service is missing; with `Ignore` the writes are admitted unchecked.""",
    example="""
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: check.policy.example.com
  failurePolicy: Fail
  clientConfig: {service: {name: policy-webhook, namespace: policy-system}}
# no Service policy-system/policy-webhook""",
    fix="""
Restore the webhook's Service (reinstall its operator or chart), or delete the configuration of a webhook
that was uninstalled (`kubectl delete validatingwebhookconfiguration NAME`).""",
)
def webhook_backend_missing_service(fleet: Fleet) -> ClusterResult:
    chk = webhook_backend_missing_service
    if gap := _gaps(fleet, (Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK)):
        return chk.skipped("admission webhooks not judged", gap)
    lines: list[str] = []
    objects: list[str] = []
    severity = Severity.WARNING
    for ref in webhook_refs(fleet.data):
        if not _missing_service(fleet, ref.namespace, ref.service):
            continue
        wh = ref.webhook
        fail = wh.failure_policy != "Ignore"
        severity = Severity.CRITICAL if fail else severity
        effect = (
            f"the API server rejects every write it matches: {webhook_scope(wh, fleet.data)}"
            if fail
            else "the writes it matches are admitted without it"
        )
        lines.append(
            f"{ref.kind} {ref.config} webhook {wh.name} (failurePolicy {wh.failure_policy}) calls Service "
            f"{ref.namespace}/{ref.service}, which does not exist: {effect}"
        )
        objects.append(f"{ref.kind.lower()}/{ref.config}")
    return _conclude(
        chk,
        lines[:10],
        objects,
        severity,
        "Restore the webhook's Service (reinstall its operator/chart), or delete the configuration of a "
        "webhook that was uninstalled: kubectl delete validatingwebhookconfiguration NAME (or "
        "mutatingwebhookconfiguration NAME)",
    )


@cluster_check(
    id="KDA06",
    category=Category.APISERVICE_BACKEND_MISSING_SERVICE,
    title="APIServices are served by existing Services",
    needs=[Kind.APISERVICE, Kind.SERVICE],
    what="""
Lists the APIServices (aggregated APIs) whose `spec.service` names a Service that does not exist.""",
    why="""
The aggregator proxies the API group to that Service: while it is missing the group answers 503, API
discovery is incomplete (kubectl warns on every call) and namespace deletion hangs on the group's
resources.""",
    example="""
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec: {group: metrics.k8s.io, version: v1beta1, service: {name: metrics-server, namespace: kube-system}}
# no Service kube-system/metrics-server""",
    fix="""
Restore the Service (reinstall the API's server, e.g. metrics-server), or remove an API that was
uninstalled (`kubectl delete apiservice NAME`).""",
    e2e_exempt="an APIService backed by a missing Service makes API discovery fail for every client of the "
    "shared e2e cluster and blocks namespace deletion there; it is covered by fixtures and unit tests",
)
def apiservice_backend_missing_service(fleet: Fleet) -> ClusterResult:
    chk = apiservice_backend_missing_service
    if gap := _gaps(fleet, (Kind.APISERVICE,)):
        return chk.skipped("APIServices not judged", gap)
    lines: list[str] = []
    objects: list[str] = []
    for api in apiservice_refs(fleet.data):
        svc = api.spec.service
        if svc is None or not _missing_service(fleet, svc.namespace, svc.name):
            continue
        lines.append(
            f"APIService {api.metadata.name} is served by Service {svc.namespace}/{svc.name}, which does not "
            f"exist: {api.spec.group}/{api.spec.version} answers 503, discovery is incomplete and namespace "
            "deletion hangs"
        )
        objects.append(f"apiservice/{api.metadata.name}")
    return _conclude(
        chk,
        lines[:10],
        objects,
        Severity.CRITICAL,
        "Restore the Service (reinstall the API's server, e.g. metrics-server), or remove an API that was "
        "uninstalled: kubectl delete apiservice NAME",
    )


# ---- Gateway API routes (KDA07, KDA08) ----------------------------------------------------------------------
_ROUTE_FIX = {
    "missing-service": "Create the Service, or fix the backendRef's name/namespace: "
    "kubectl -n NS patch httproute NAME --type=json -p "
    '\'[{"op":"replace","path":"/spec/rules/R/backendRefs/B/name","value":"SERVICE"}]\'',
    "missing-port": "Name a port the Service has (the Service port, not the targetPort); see KD804 in the "
    "Service's report",
}


def _route_gaps(chk: ClusterCheck, fleet: Fleet, problem: str) -> ClusterResult:
    from kubediag.checks.routes import route_backend_gaps
    from kubediag.kinds import ROUTE_KINDS

    data, scope = fleet.data, fleet.scope
    served = [k for k in ROUTE_KINDS if k not in data.unserved]
    if not served:
        return chk.passed("the cluster does not serve Gateway API routes")
    gaps = [m for k in served if (m := data.missing(k)) is not None]
    if len(gaps) == len(served):
        return chk.skipped("no route kind could be read", "; ".join(m.describe() for m in gaps))
    if scope.label_selector:
        return chk.skipped(
            "route backendRefs not judged",
            f"Services were filtered by the label selector {scope.label_selector}: absence is unknown",
        )
    found = [
        g
        for g in route_backend_gaps(data, scope.namespaces)
        if scope.includes(g.backend.route_ns) and g.problem == problem
    ]
    partial = f" ({'; '.join(m.describe() for m in gaps)})" if gaps else ""
    if not found:
        return chk.passed("every route backendRef resolves" + partial)
    keys = [f"{g.backend.route_kind}/{g.backend.route_ns}/{g.backend.route_name}" for g in found]
    what = "a Service that does not exist" if problem == "missing-service" else "a port their Service lacks"
    return chk.failed(
        Severity.WARNING if problem == "missing-service" else Severity.CRITICAL,
        f"{len(found)} route backendRef(s) name {what}: {_listing([g.text for g in found], 5)}; the "
        "gateway answers 500 for the requests those backends would get" + partial,
        _ROUTE_FIX[problem],
        list(dict.fromkeys(keys)),
    )


_ROUTE_NEEDS = [Kind.SERVICE]  # route kinds are optional and discovered: judged inside, never a hard need


@cluster_check(
    id="KDA07",
    category=Category.ROUTE_BACKEND_SERVICE_MISSING,
    title="Route backendRefs name Services that exist",
    needs=_ROUTE_NEEDS,
    what="""
Lists the Gateway API routes (every served route kind) whose `backendRefs` name a Service that does not
exist, in namespaces whose Services were listed completely. Not applicable when the cluster does not serve
the Gateway API.""",
    why="""
A backendRef to a missing Service resolves to nothing: the gateway answers 500 for the share of requests
that backend would get (ResolvedRefs=False, BackendNotFound).""",
    example="""
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  parentRefs: [{name: public}]
  rules: [{backendRefs: [{name: cart-api, port: 8080}]}]
# no Service shop/cart-api""",
    fix="""
Create the Service, or fix the backendRef's name/namespace (`kubectl -n NS patch httproute NAME --type=json
...`).""",
)
def route_backend_service_missing(fleet: Fleet) -> ClusterResult:
    return _route_gaps(route_backend_service_missing, fleet, "missing-service")


@cluster_check(
    id="KDA08",
    category=Category.ROUTE_BACKEND_PORT_MISSING,
    title="Route backendRefs name ports their Service has",
    needs=_ROUTE_NEEDS,
    what="""
Lists the Gateway API routes whose `backendRefs` name an existing Service with a `port` the Service does
not declare (a Service backendRef takes the Service port, not the targetPort).""",
    why="""
The gateway cannot resolve the port: the backend is invalid and its share of requests gets 500.""",
    example="""
kind: HTTPRoute
metadata: {name: store, namespace: shop}
spec:
  rules: [{backendRefs: [{name: web, port: 8080}]}]   # Service web: port 80 -> targetPort 8080
""",
    fix="""
Name a port the Service has (the Service port, not the targetPort); KD804 in the Service's report gives the
patch.""",
)
def route_backend_port_missing(fleet: Fleet) -> ClusterResult:
    return _route_gaps(route_backend_port_missing, fleet, "missing-port")
