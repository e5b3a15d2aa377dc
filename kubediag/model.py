"""The vocabulary of a diagnosis: severities, categories, stages, findings and check results.

Nothing here does I/O; everything is immutable so a report can be built and rendered anywhere.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class ExitCode(enum.IntEnum):
    """Process exit codes (documented in the README; stable)."""

    OK = 0  # healthy, or nothing at or above --fail-on
    FINDINGS = 1  # a finding at or above --fail-on
    USAGE = 2  # bad arguments or input: nothing was asked of the cluster
    CLUSTER = 3  # cluster unreachable, unauthenticated, or the --timeout deadline passed
    UNKNOWN = 4  # data the diagnosis needs could not be read: status unknown


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class Status(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    BROKEN = "broken"
    UNKNOWN = "unknown"


class Stage(enum.StrEnum):
    """The links of the chain, in the order traffic depends on them."""

    EXISTENCE = "existence"
    SPEC = "spec"
    SELECTION = "selection"
    PODS = "pods"
    ENDPOINTS = "endpoints"
    PORTS = "ports"
    NETWORK_POLICY = "network-policy"
    TRAFFIC_POLICY = "traffic-policy"
    EXPOSURE = "exposure"
    CONSUMERS = "consumers"
    # --probe: what the pods answer through a port-forward (after every API-level check)
    DATA_PLANE = "data-plane"

    @property
    def order(self) -> int:
        return list(Stage).index(self)


class Category(enum.StrEnum):
    """The fixed category vocabulary: the JSON contract for bots. New members only at the end."""

    SERVICE_NOT_FOUND = "service-not-found"
    EXTERNALNAME_INVALID = "externalname-invalid"
    SELECTORLESS_NO_ENDPOINTS = "selectorless-no-endpoints"
    STALE_ENDPOINTS = "stale-endpoints"
    SELECTOR_NO_MATCH = "selector-no-match"
    SELECTOR_PARTIAL_MATCH = "selector-partial-match"
    SELECTOR_OVERBROAD = "selector-overbroad"
    PODS_UNSCHEDULABLE = "pods-unschedulable"
    PODS_IMAGE_PULL = "pods-image-pull"
    PODS_CONFIG_ERROR = "pods-config-error"
    PODS_CRASHLOOP = "pods-crashloop"
    PODS_NOT_READY = "pods-not-ready"
    PODS_TERMINATING = "pods-terminating"
    PODS_NO_IP = "pods-no-ip"
    ENDPOINTS_MISSING = "endpoints-missing"
    NAMED_PORT_NOT_FOUND = "named-port-not-found"
    TARGET_PORT_NOT_EXPOSED = "target-port-not-exposed"
    PROTOCOL_MISMATCH = "protocol-mismatch"
    NETWORK_POLICY_INGRESS_BLOCKED = "network-policy-ingress-blocked"
    NETWORK_POLICY_EGRESS_BLOCKED = "network-policy-egress-blocked"
    NETWORK_POLICY_DNS_BLOCKED = "network-policy-dns-blocked"
    TRAFFIC_POLICY_LOCAL = "traffic-policy-local"
    LOADBALANCER_PENDING = "loadbalancer-pending"
    LOADBALANCER_SYNC_FAILED = "loadbalancer-sync-failed"
    NODEPORT_EXPOSURE = "nodeport-exposure"
    INGRESS_BACKEND_INVALID = "ingress-backend-invalid"
    STATEFULSET_SERVICE_MISMATCH = "statefulset-service-mismatch"
    ENV_DISCOVERY_ORDER = "env-discovery-order"
    NETWORK_POLICY_REACHABILITY = "network-policy-reachability"
    PODS_INIT_BLOCKED = "pods-init-blocked"
    LOADBALANCER_PER_SERVICE = "loadbalancer-per-service"
    NODEPORT_EXTERNAL_NODES = "nodeport-external-nodes"
    SERVICE_NO_PORTS = "service-no-ports"
    CLIENT_DNS_MISCONFIGURED = "client-dns-misconfigured"
    CLUSTER_DNS_UNAVAILABLE = "cluster-dns-unavailable"
    INGRESS_CLASS_UNCLAIMED = "ingress-class-unclaimed"
    WEBHOOK_BACKEND_UNAVAILABLE = "webhook-backend-unavailable"
    INGRESS_BACKEND_MISSING_SERVICE = "ingress-backend-missing-service"
    WEBHOOK_BACKEND_MISSING_SERVICE = "webhook-backend-missing-service"
    APISERVICE_BACKEND_MISSING_SERVICE = "apiservice-backend-missing-service"
    TARGET_PORT_NOT_LISTENING = "target-port-not-listening"
    BACKEND_PARTIALLY_REFUSING = "backend-partially-refusing"
    BACKEND_HTTP_ERRORS = "backend-http-errors"
    ROUTE_BACKEND_INVALID = "route-backend-invalid"
    ROUTE_NOT_ACCEPTED = "route-not-accepted"
    ROUTE_BACKEND_SERVICE_MISSING = "route-backend-service-missing"
    ROUTE_BACKEND_PORT_MISSING = "route-backend-port-missing"
    WORKLOAD_SCALED_TO_ZERO = "workload-scaled-to-zero"
    PODS_NOT_CREATED = "pods-not-created"


class Kind(enum.StrEnum):
    """The kinds the gatherer reads (value: the API resource name). Checks declare which they need; each
    kind's API path, scope and typed Struct are in `kubediag.kinds.SPECS`."""

    SERVICE = "services"
    ENDPOINTSLICE = "endpointslices"
    POD = "pods"
    NODE = "nodes"
    NETWORKPOLICY = "networkpolicies"
    NAMESPACE = "namespaces"
    EVENT = "events"
    INGRESS = "ingresses"
    DEPLOYMENT = "deployments"
    INGRESSCLASS = "ingressclasses"
    VALIDATINGWEBHOOK = "validatingwebhookconfigurations"
    MUTATINGWEBHOOK = "mutatingwebhookconfigurations"
    APISERVICE = "apiservices"
    # Gateway API (gateway.networking.k8s.io): read only when API discovery says the cluster serves them
    HTTPROUTE = "httproutes"
    GRPCROUTE = "grpcroutes"
    TLSROUTE = "tlsroutes"
    TCPROUTE = "tcproutes"
    UDPROUTE = "udproutes"
    REFERENCEGRANT = "referencegrants"
    GATEWAY = "gateways"
    GATEWAYCLASS = "gatewayclasses"
    REPLICASET = "replicasets"
    STATEFULSET = "statefulsets"
    DAEMONSET = "daemonsets"
    HPA = "horizontalpodautoscalers"

    @property
    def group(self) -> str:
        from kubediag.kinds import SPECS

        return SPECS[self].group

    @property
    def cluster_scoped(self) -> bool:
        from kubediag.kinds import SPECS

        return SPECS[self].cluster_scoped


# Without these the chain cannot tell a broken Service from missing data: status becomes unknown.
REQUIRED_KINDS = frozenset({Kind.SERVICE, Kind.POD, Kind.ENDPOINTSLICE})


@dataclass(frozen=True)
class Unavailable:
    """Why a kind could not be read: forbidden (permission named) or an error."""

    kind: Kind
    reason: str  # "forbidden" | "error"
    detail: str  # e.g. "list networkpolicies in namespace shop"

    def describe(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class Evidence:
    kind: str
    namespace: str | None
    name: str
    field: str
    observed: str
    expected: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "field": self.field,
            "observed": self.observed,
            "expected": self.expected,
        }


@dataclass(frozen=True)
class Finding:
    check_id: str
    category: Category
    severity: Severity
    message: str
    remediation: str
    evidence: tuple[Evidence, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "category": self.category.value,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": [e.as_dict() for e in self.evidence],
            "remediation": self.remediation,
        }


class Outcome(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    title: str
    stage: Stage
    outcome: Outcome
    findings: tuple[Finding, ...] = ()
    reason: str = ""  # why skipped
    notes: tuple[str, ...] = field(default=())  # info lines that are not findings (e.g. who may reach it)


@dataclass(frozen=True)
class ClusterResult:
    """What a cluster-wide (audit) check concluded over the Services in scope: a finding (outcome failed),
    or a pass, or why it could not run (skipped). `objects` are `namespace/name` keys (or `node/NAME`)."""

    id: str
    category: Category
    title: str
    outcome: Outcome
    severity: Severity | None = None
    message: str = ""
    remediation: str = ""
    objects: tuple[str, ...] = ()
    reason: str = ""  # why skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category.value,
            "title": self.title,
            "outcome": self.outcome.value,
            "severity": self.severity.value if self.severity else None,
            "message": self.message,
            "remediation": self.remediation,
            "objects": list(self.objects),
            **({"reason": self.reason} if self.reason else {}),
        }
