"""What depends on the Service from outside: Ingress classes that no controller claims (KD904), and admission
webhooks and aggregated APIs whose backend is this Service while it has no ready endpoint (KD905).

Both are independent: they judge consumers, whatever the root cause of the Service's own chain. Their kinds
are cluster-scoped and optional; `svc` reads them only when the situation calls for it (an Ingress routing
here without an address; a Service with no ready endpoint).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from kubediag.checks.base import NotApplicable, check
from kubediag.dependents import (
    DEFAULT_CLASS_ANNOTATION,
    WebhookRef,
    apiservice_refs,
    backend_services,
    ingress_address,
    ingress_class,
    ready_endpoints,
    webhook_refs,
    webhook_scope,
)
from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.objects import Ingress, IngressClass
from kubediag.snapshot import Snapshot, name_of
from kubediag.text import closest

# ---- KD904 -----------------------------------------------------------------------------------------------


def _class_patch(ns: str, ing: str, cls: str) -> str:
    body = json.dumps({"spec": {"ingressClassName": cls}}, separators=(",", ":"))
    return f"kubectl -n {ns} patch ingress {ing} --type=merge -p '{body}'"


def _routing_ingresses(snap: Snapshot) -> list[Ingress]:
    """The Ingresses of the Service's namespace that route to it, in the store's order. The namespace's
    Ingresses are indexed by the Services they route to once per namespace, not scanned once per Service
    (`backend_services` yields every Service name `routes_to` compares with)."""
    key = ("kd904-routing", snap.namespace)
    memo = snap.data.memo
    if key not in memo:
        index: dict[str, list[Ingress]] = {}
        for ing in snap.data.ingresses_by_ns.get(snap.namespace, ()):
            for name in dict.fromkeys(svc for _, svc in backend_services(ing)):
                index.setdefault(name, []).append(ing)
        memo[key] = index
    return list(memo[key].get(snap.name, ()))


@check(
    id="KD904",
    category=Category.INGRESS_CLASS_UNCLAIMED,
    stage=Stage.CONSUMERS,
    title="A controller claims the class of each Ingress routing to the Service",
    needs=[Kind.SERVICE, Kind.INGRESS, Kind.INGRESSCLASS],
    independent=True,
    what="""
For each Ingress in the namespace that routes to this Service and has no address in
`status.loadBalancer.ingress` (an address means a controller claimed it), reads its class
(`spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class` annotation) and the IngressClasses:
a class with no IngressClass, a classless Ingress when no IngressClass is marked default
(`ingressclass.kubernetes.io/is-default-class: "true"`), or a class that no Ingress anywhere was given an
address for, is unclaimed. A legacy annotation without an IngressClass counts only when no Ingress of that
class has an address (some controllers still honour the annotation by itself).""",
    why="""
Ingress controllers serve only the Ingresses of their class. An Ingress no controller claims is never
programmed into any proxy and never gets an address: the Service works inside the cluster, but the
external route (host/path) does not exist. Nothing reports an error; the Ingress just sits there.""",
    example="""
kind: Ingress
metadata: {name: shop, namespace: shop}
spec:
  ingressClassName: nginx-public   # kubectl get ingressclass: only 'nginx'
  rules: [{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]""",
    fix="""
Name the class your controller serves (`kubectl get ingressclass`):
`kubectl -n shop patch ingress shop --type=merge -p '{"spec":{"ingressClassName":"nginx"}}'`, or install the
controller for that class, or, for a class without any address, check that its controller is running.""",
)
def ingress_class_claimed(snap: Snapshot) -> Iterator[Finding]:
    ns = snap.namespace
    routing = _routing_ingresses(snap)
    if not routing:
        raise NotApplicable(f"no Ingress in {ns} routes to Service {snap.name}")
    waiting = sorted((i for i in routing if not ingress_address(i)), key=name_of)
    if not waiting:
        return  # every one has an address: a controller claimed it
    classes: dict[str, IngressClass] = {c.metadata.name: c for c in snap.data.of(Kind.INGRESSCLASS)}
    defaults = sorted(n for n, c in classes.items() if c.is_default)
    wide = Kind.INGRESS in snap.data.cluster_wide
    ingresses = snap.data.ingresses if wide else snap.data.ingresses_by_ns.get(ns, ())
    where = "in the cluster" if wide else f"in namespace {ns} (other namespaces were not read)"
    default = defaults[0] if len(defaults) == 1 else ""

    def effective(ing: Ingress) -> str:
        return ingress_class(ing)[0] or default

    addressed_classes = {effective(i) for i in ingresses if ingress_address(i)}
    addressed_classless = any(ingress_address(i) for i in ingresses if not ingress_class(i)[0])
    known = ", ".join(sorted(classes)) or "none"
    for ing in waiting:
        iname = name_of(ing)
        cls, source = ingress_class(ing)
        subject = f"Ingress {ns}/{iname} (routing to Service {snap.name}) has no address"
        if cls and cls not in classes:
            if cls in addressed_classes:
                continue  # a controller claims the class by name without an IngressClass object
            if not source.startswith("spec") and not wide:
                continue  # a legacy annotation may be honoured by a controller whose Ingresses we did not read
            near = closest(cls, classes) or sorted(
                c for c in classes if cls.startswith(c + "-") or cls.endswith("-" + c)
            )
            hint = f" (did you mean {near[0]}?)" if near else ""
            pick = near[0] if near else (default or next(iter(sorted(classes)), ""))
            fix = (
                _class_patch(ns, iname, pick)
                + f"   # if class {pick}'s controller should serve it; else install the controller for {cls}"
                if classes
                else f"Install an Ingress controller for class {cls} (it creates IngressClass {cls}), or "
                "remove the class from the Ingress if a controller watches classless Ingresses"
            )
            if classes and not near and not default:  # an unrelated class is no confident fix
                fix = (
                    "kubectl get ingressclass   # pick the class your controller serves, then:\n"
                    + _class_patch(ns, iname, "CLASS")
                )
            yield ingress_class_claimed.finding(
                Severity.WARNING,
                f"{subject}: its class {cls!r} ({source}) has no IngressClass (IngressClasses: {known}){hint}, "
                f"and no Ingress of that class has an address {where}: no controller claims it, so the "
                "external route does not exist (in-cluster calls to the Service still work)",
                fix,
                [
                    Evidence("Ingress", ns, iname, source, cls, f"an IngressClass: {known}"),
                    Evidence("Ingress", ns, iname, "status.loadBalancer.ingress", "[]", "an address"),
                ],
            )
        elif not cls and not default:
            if addressed_classless:
                continue  # a controller watches classless Ingresses (e.g. --watch-ingress-without-class)
            why = (
                f"{len(defaults)} IngressClasses are marked default ({', '.join(defaults)}), so none is"
                if defaults
                else f'no IngressClass is marked default ({DEFAULT_CLASS_ANNOTATION}: "true"; IngressClasses: {known})'
            )
            fix = (
                _class_patch(ns, iname, next(iter(classes)))
                if len(classes) == 1
                else (
                    "kubectl get ingressclass   # pick the class your controller serves, then:\n"
                    + _class_patch(ns, iname, "CLASS")
                )
                if classes
                else "Install an Ingress controller (it creates its IngressClass), then set spec.ingressClassName"
            )
            yield ingress_class_claimed.finding(
                Severity.WARNING,
                f"{subject}: it names no class and {why}, and no classless Ingress has an address {where}: "
                "no controller claims it, so the external route does not exist (in-cluster calls still work)",
                fix,
                [
                    Evidence(
                        "Ingress", ns, iname, "spec.ingressClassName", "<none>", "a class a controller serves"
                    ),
                    Evidence("Ingress", ns, iname, "status.loadBalancer.ingress", "[]", "an address"),
                ],
            )
        else:
            name = cls or default
            if name in addressed_classes or not wide:
                continue  # claimed elsewhere, or we cannot tell without the other namespaces
            controller = classes[name].spec.controller if name in classes else ""
            yield ingress_class_claimed.finding(
                Severity.WARNING,
                f"{subject}, and no Ingress of class {name!r} has an address {where}: IngressClass {name} "
                f"(controller {controller or 'unknown'}) exists but its controller does not appear to run or "
                "to publish addresses, so the external route most likely does not exist",
                f"kubectl get pods -A | grep -i {(controller.split('/')[-1] or name)[:30]}   # is the controller "
                f"running? its logs say why it skips Ingress {ns}/{iname}",
                [
                    Evidence(
                        "Ingress", ns, iname, source or "spec.ingressClassName", name, "a claimed class"
                    ),
                    Evidence("Ingress", ns, iname, "status.loadBalancer.ingress", "[]", "an address"),
                ],
            )


# ---- KD905 -----------------------------------------------------------------------------------------------


def _effect(ref: WebhookRef, snap: Snapshot) -> str:
    """What the API server does with the writes a webhook matches while its call fails."""
    scope = webhook_scope(ref.webhook, snap.data)
    if ref.webhook.failure_policy != "Ignore":
        return f"the API server rejects every write it matches: {scope}"
    unmutated = ", unmutated" if "Mutating" in ref.kind else ""
    return f"the API server admits the writes it matches without it (unchecked{unmutated}): {scope}"


@check(
    id="KD905",
    category=Category.WEBHOOK_BACKEND_UNAVAILABLE,
    stage=Stage.CONSUMERS,
    title="Webhooks and aggregated APIs served by the Service can reach it",
    needs=[Kind.SERVICE, Kind.ENDPOINTSLICE, Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK, Kind.APISERVICE],
    independent=True,
    what="""
When the Service has no ready endpoint, finds the admission webhooks (Validating- and
MutatingWebhookConfigurations) and APIServices whose backend is this Service. A webhook with
`failurePolicy: Fail` (the default) is critical: the API server rejects every write its rules match (the
operations, resources, namespaces and objects are named); with `Ignore` a warning (the writes are admitted
without the webhook's check or mutation). An APIService is critical: its API group/version answers 503. Also
flags a webhook calling a port the Service does not have. Read only when the Service has no ready endpoint
(or is missing: KD101 names them), so a healthy Service pays nothing.""",
    why="""
The API server calls webhooks synchronously on every matching write. With no endpoint behind the webhook's
Service the call fails (`failed calling webhook ...: no endpoints available for service`), so with
`failurePolicy: Fail` deployments, pod creation, even the webhook's own fix may be refused cluster-wide. An
unavailable APIService breaks its API (`kubectl top`, HPAs for metrics.k8s.io), makes discovery incomplete
and blocks namespace deletion.""",
    example="""
kind: ValidatingWebhookConfiguration
metadata: {name: policy}
webhooks:
- name: validate.policy.example.com
  failurePolicy: Fail
  clientConfig: {service: {namespace: policy, name: policy-webhook, port: 443}}
  rules: [{operations: [CREATE, UPDATE], apiGroups: [apps], apiVersions: [v1], resources: [deployments]}]
# Service policy/policy-webhook has no ready endpoint""",
    fix="""
Restore a ready endpoint of the Service (its own root cause is above in the report). To unblock writes in
the meantime, and only if admitting them unchecked is acceptable:
`kubectl patch validatingwebhookconfiguration policy --type=json -p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]'`.""",
)
def webhook_backends(snap: Snapshot) -> Iterator[Finding]:
    ns, name = snap.namespace, snap.name
    if snap.svc_type == "ExternalName":
        raise NotApplicable("an ExternalName Service has no endpoints by design")
    hooks = [r for r in webhook_refs(snap.data) if (r.namespace, r.service) == (ns, name)]
    apis = [
        a
        for a in apiservice_refs(snap.data)
        if a.spec.service and (a.spec.service.namespace, a.spec.service.name) == (ns, name)
    ]
    if not hooks and not apis:
        raise NotApplicable(f"no webhook or APIService is served by Service {name}")
    ready = ready_endpoints(snap.slices)
    ports = {p.port for p in snap.ports}
    for ref in hooks:
        wh = ref.webhook
        severity = Severity.CRITICAL if wh.failure_policy != "Ignore" else Severity.WARNING
        kind_cmd = ref.kind.lower()
        if ready and ref.port in ports:
            continue
        problem = (
            "has no ready endpoint"
            if not ready
            else f"has no port {ref.port} (ports: {', '.join(map(str, sorted(ports))) or 'none'})"
        )
        effect = _effect(ref, snap)
        body = json.dumps(
            [{"op": "replace", "path": f"/webhooks/{ref.index}/failurePolicy", "value": "Ignore"}],
            separators=(",", ":"),
        )
        fix = (
            f"Restore a ready endpoint of Service {ns}/{name} (see the root cause)"
            if not ready
            else f"Point webhook {wh.name} at a port Service {name} has (clientConfig.service.port), or add port {ref.port}"
        )
        if severity is Severity.CRITICAL:
            fix += (
                f"; meanwhile, only if admitting those writes unchecked is acceptable:\n"
                f"kubectl patch {kind_cmd} {ref.config} --type=json -p '{body}'"
            )
        yield webhook_backends.finding(
            severity,
            f"{ref.kind} {ref.config} webhook {wh.name} (failurePolicy {wh.failure_policy}) calls Service "
            f"{ns}/{name} on port {ref.port}, which {problem}: {effect}",
            fix,
            [
                Evidence(
                    ref.kind,
                    None,
                    ref.config,
                    f"webhooks[{ref.index}].clientConfig.service",
                    f"{ns}/{name}:{ref.port}",
                    "a Service with a ready endpoint on that port",
                ),
                Evidence("Service", ns, name, "ready endpoints", str(ready), "at least one"),
            ],
        )
    if ready:
        return
    for api in apis:
        gv = f"{api.spec.group}/{api.spec.version}"
        yield webhook_backends.finding(
            Severity.CRITICAL,
            f"APIService {api.metadata.name} is served by Service {ns}/{name}, which has no ready endpoint: every "
            f"request to {gv} answers 503, API discovery is incomplete (kubectl warns 'unable to retrieve the "
            "complete list of server APIs'), and deleting a namespace hangs in Terminating",
            f"Restore a ready endpoint of Service {ns}/{name} (see the root cause); if the API is no longer "
            f"served, remove it (its clients lose {gv}): kubectl delete apiservice {api.metadata.name}",
            [
                Evidence(
                    "APIService",
                    None,
                    api.metadata.name,
                    "spec.service",
                    f"{ns}/{name}",
                    "a Service with a ready endpoint",
                ),
                Evidence("Service", ns, name, "ready endpoints", "0", "at least one"),
            ],
        )


def consumers_of_missing(snap: Snapshot) -> tuple[list[str], list[Evidence]]:
    """For a missing Service: the Ingresses (namespace), webhooks and APIServices that name it."""
    ns, name = snap.namespace, snap.name
    hints: list[str] = []
    evidence: list[Evidence] = []
    from kubediag.dependents import backend_services

    ing_refs = [
        (ing, path)
        for ing in sorted(snap.data.ingresses_by_ns.get(ns, ()), key=name_of)
        for path, svc in backend_services(ing)
        if svc == name
    ]
    if ing_refs:
        names = list(dict.fromkeys(name_of(i) for i, _ in ing_refs))
        hints.append(
            f"Ingress {', '.join(names)} route{'s' if len(names) == 1 else ''} to it (those routes answer 503)"
        )
        evidence += [
            Evidence("Ingress", ns, name_of(i), path, name, "an existing Service") for i, path in ing_refs[:5]
        ]
    hooks = [r for r in webhook_refs(snap.data) if (r.namespace, r.service) == (ns, name)]
    for ref in hooks[:5]:
        wh = ref.webhook
        verdict = _effect(ref, snap)
        hints.append(
            f"{ref.kind} {ref.config} webhook {wh.name} (failurePolicy {wh.failure_policy}) calls it: {verdict}"
        )
        evidence.append(
            Evidence(
                ref.kind,
                None,
                ref.config,
                f"webhooks[{ref.index}].clientConfig.service",
                f"{ns}/{name}",
                "an existing Service",
            )
        )
    apis = [
        a
        for a in apiservice_refs(snap.data)
        if a.spec.service and (a.spec.service.namespace, a.spec.service.name) == (ns, name)
    ]
    for api in apis[:5]:
        hints.append(
            f"APIService {api.metadata.name} is served by it: {api.spec.group}/{api.spec.version} answers 503"
        )
        evidence.append(
            Evidence(
                "APIService", None, api.metadata.name, "spec.service", f"{ns}/{name}", "an existing Service"
            )
        )
    return hints, evidence


def unreadable(snap: Snapshot, kinds: Sequence[Kind]) -> list[str]:
    """Descriptions of the consumer kinds that could not be read (forbidden or failed)."""
    return [m.describe() for k in kinds if (m := snap.data.missing(k)) is not None and m.reason != "not-read"]
