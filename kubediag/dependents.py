"""Pure facts about what depends on a Service from outside its own chain: Ingresses and their classes,
admission webhooks and aggregated APIs that call it, and the cluster DNS every client resolves it with.

Shared by the gatherer (to decide which optional reads a situation calls for), the checks and `audit`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kubediag.labels import format_selector, labels_of
from kubediag.model import Kind
from kubediag.objects import (
    APIService,
    EndpointSlice,
    Ingress,
    KubeObject,
    LabelSelector,
    Pod,
    PodDNSConfig,
    RuleWithOperations,
    Service,
    Webhook,
)
from kubediag.snapshot import ClusterData, name_of, ns_of

LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
DNS_NAMESPACE = "kube-system"
DNS_SELECTOR = "k8s-app=kube-dns"
DNS_LABELS = {"k8s-app": "kube-dns"}


# ---- EndpointSlices ---------------------------------------------------------------------------------------
def ready_endpoints(slices: Sequence[EndpointSlice]) -> int:
    """Addresses the slices list as ready (a missing `ready` condition means ready)."""
    return sum(
        len(e.addresses) for s in slices for e in s.endpoints if e.conditions.ready is not False
    )


def listed_endpoints(slices: Sequence[EndpointSlice]) -> int:
    return sum(len(e.addresses) for s in slices for e in s.endpoints)


# ---- Ingresses ---------------------------------------------------------------------------------------------
def routes_to(ing: Ingress, service: str) -> bool:
    """The Ingress sends some route (a rule path or its default backend) to Service `service`."""
    spec = ing.spec
    return spec.default_backend.service.name == service or any(
        p.backend.service.name == service for r in spec.rules for p in r.http.paths
    )


def backend_services(ing: Ingress) -> Iterator[tuple[str, str]]:
    """(JSON path of backend.service.name, Service name) for every Service backend of an Ingress."""
    spec = ing.spec
    if svc := spec.default_backend.service.name:
        yield "spec.defaultBackend.service.name", svc
    for i, rule in enumerate(spec.rules):
        for j, path in enumerate(rule.http.paths):
            if svc := path.backend.service.name:
                yield f"spec.rules[{i}].http.paths[{j}].backend.service.name", svc


def ingress_class(ing: Ingress) -> tuple[str, str]:
    """(class name, where it is set): `spec.ingressClassName`, the legacy annotation, or ("", "")."""
    name = ing.spec.ingress_class_name
    if name:
        return name, "spec.ingressClassName"
    legacy = ing.metadata.annotations.get(LEGACY_CLASS_ANNOTATION)
    if legacy:
        return legacy, f"metadata.annotations[{LEGACY_CLASS_ANNOTATION}]"
    return "", ""


def ingress_address(ing: Ingress) -> str:
    """The first address a controller published in status.loadBalancer.ingress, or ""."""
    for lb in ing.status.load_balancer.ingress:
        addr = lb.ip or lb.hostname
        if addr:
            return addr
    return ""


def unaddressed_routes(ingresses: Sequence[Ingress], service: str) -> list[Ingress]:
    """Ingresses routing to `service` that no controller has given an address."""
    return [i for i in ingresses if routes_to(i, service) and not ingress_address(i)]


# ---- admission webhooks and aggregated APIs ---------------------------------------------------------------
@dataclass(frozen=True)
class WebhookRef:
    kind: str  # ValidatingWebhookConfiguration | MutatingWebhookConfiguration
    config: str
    index: int
    webhook: Webhook

    @property
    def namespace(self) -> str:
        svc = self.webhook.client_config.service
        return svc.namespace if svc else ""

    @property
    def service(self) -> str:
        svc = self.webhook.client_config.service
        return svc.name if svc else ""

    @property
    def port(self) -> int:
        svc = self.webhook.client_config.service
        return svc.port if svc else 443


def webhook_refs(data: ClusterData) -> list[WebhookRef]:
    """Every webhook (validating and mutating) whose backend is a Service, in a stable order."""
    out: list[WebhookRef] = []
    for kind, label in (
        (Kind.VALIDATINGWEBHOOK, "ValidatingWebhookConfiguration"),
        (Kind.MUTATINGWEBHOOK, "MutatingWebhookConfiguration"),
    ):
        for cfg in sorted(data.of(kind), key=lambda c: c.metadata.name):
            for i, wh in enumerate(cfg.webhooks):
                if wh.client_config.service is not None:
                    out.append(WebhookRef(label, cfg.metadata.name, i, wh))
    return out


def apiservice_refs(data: ClusterData) -> list[APIService]:
    """APIServices served by a Service (local, built-in groups have no spec.service)."""
    return sorted(
        (a for a in data.of(Kind.APISERVICE) if a.spec.service is not None), key=lambda a: a.metadata.name
    )


def _rule_text(rule: RuleWithOperations) -> str:
    ops = rule.operations or ["*"]
    ops_text = "every operation" if "*" in ops else ", ".join(ops)
    groups = rule.api_groups or [""]
    res = rule.resources or ["*"]
    targets = []
    for g in groups:
        for r in res:
            group = "core" if g == "" else ("every API group" if g == "*" else g)
            targets.append(("every resource" if r == "*" else r) + f" ({group})")
    scope = "" if rule.scope in ("", "*") else f" ({rule.scope.lower()} objects only)"
    return f"{ops_text} of {', '.join(targets)}{scope}"


def _selector_text(sel: LabelSelector) -> str:
    return format_selector(sel) if (sel.match_labels or sel.match_expressions) else ""


def webhook_scope(wh: Webhook, data: ClusterData | None = None) -> str:
    """What writes the webhook is called for: operations, resources, namespaces, objects."""
    rules = "; ".join(_rule_text(r) for r in wh.rules) or "no rule"
    ns_sel = _selector_text(wh.namespace_selector)
    where = "in every namespace" if not ns_sel else f"in namespaces labelled {ns_sel}"
    if ns_sel and data is not None and data.missing(Kind.NAMESPACE) is None and data.namespaces:
        from kubediag.labels import selector_matches

        names = sorted(
            name_of(n)
            for n in data.namespaces
            if selector_matches(wh.namespace_selector, data.namespace_labels(name_of(n)))
        )
        where += f" ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})" if names else " (none today)"
    obj_sel = _selector_text(wh.object_selector)
    objects = f", objects labelled {obj_sel}" if obj_sel else ""
    return f"{rules} {where}{objects}"


# ---- cluster DNS -------------------------------------------------------------------------------------------
def cluster_dns_services(data: ClusterData) -> list[Service]:
    """The cluster DNS Services (kube-system, labelled k8s-app=kube-dns) present in the store."""
    return sorted(
        (
            s
            for s in data.services_by_ns.get(DNS_NAMESPACE, ())
            if all(labels_of(s).get(k) == v for k, v in DNS_LABELS.items())
        ),
        key=name_of,
    )


def cluster_ips(svc: Service) -> list[str]:
    spec = svc.spec
    ips = [ip for ip in spec.cluster_ips if ip and ip != "None"]
    ip = spec.cluster_ip
    if ip and ip != "None" and ip not in ips:
        ips.insert(0, ip)
    return ips


@dataclass(frozen=True)
class ClientDns:
    """How a pod resolves names: its dnsPolicy as written and as the kubelet applies it."""

    policy: str  # as written (default ClusterFirst)
    effective: str  # ClusterFirst | Default | None
    host_network: bool
    nameservers: tuple[str, ...]
    searches: tuple[str, ...]
    config: PodDNSConfig

    @property
    def why(self) -> str:
        if self.host_network and self.policy == "ClusterFirst":
            return "dnsPolicy ClusterFirst with hostNetwork: true (the kubelet falls back to Default)"
        return f"dnsPolicy {self.policy}"


def client_dns(pod: Pod) -> ClientDns:
    spec = pod.spec
    policy = spec.dns_policy or "ClusterFirst"
    host = spec.host_network
    if policy == "ClusterFirstWithHostNet":
        effective = "ClusterFirst"
    elif policy == "ClusterFirst":
        effective = "Default" if host else "ClusterFirst"
    else:
        effective = policy
    cfg = spec.dns_config
    return ClientDns(policy, effective, host, tuple(cfg.nameservers or ()), tuple(cfg.searches or ()), cfg)


def maybe_node_local(ip: str) -> bool:
    """A link-local address (169.254.0.0/16): NodeLocal DNSCache listens on one (169.254.20.10 by default)."""
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network("169.254.0.0/16")
    except ValueError:
        return False


def uses_cluster_dns(data: ClusterData, pod: Pod) -> bool | None:
    """Whether the pod's queries go to the cluster DNS: True, False, or None when it cannot be told (dnsPolicy
    None and the cluster DNS address unknown, or only a link-local resolver that may be NodeLocal DNSCache)."""
    dns = client_dns(pod)
    if dns.effective == "ClusterFirst":
        return True
    if dns.effective != "None":
        return False
    known = [ip for s in cluster_dns_services(data) for ip in cluster_ips(s)] if data.cluster_dns_read else []
    if any(ns in known for ns in dns.nameservers):
        return True
    if not known or any(maybe_node_local(ns) for ns in dns.nameservers):
        return None
    return False


def label_text(obj: KubeObject) -> str:
    return f"{ns_of(obj)}/{name_of(obj)}" if ns_of(obj) else name_of(obj)
