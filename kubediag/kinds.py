"""One entry per kind the gatherer reads: its API group/version, scope, the typed Struct its objects decode
into, and what it is read for (shown by `kubediag rbac`).

Adding a kind is one Struct in `kubediag.objects`, one `Kind` member and one `KindSpec` here: the gatherer,
the snapshot store (`ClusterData.of`), the fixtures loader and the RBAC rules all read this table.

Kinds served at a version chosen at run time (`discovered=True`: the Gateway API CRDs, which a cluster may
serve at v1, v1beta1 or v1alpha2, or not at all) still have one Struct and one path template: `versions`
lists every version the Struct understands, preferred first, and `version` is the first of them. The
gatherer asks API discovery once per run which of them the server serves (`gather.Client.discover`) and
passes that version to `path`; a kind the server does not serve is never requested.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

import msgspec

from kubediag import objects
from kubediag.model import Kind
from kubediag.objects import (
    APIService,
    IngressClass,
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
    interning_hook,
)


@dataclass(frozen=True)
class KindSpec:
    kind: str  # the object's `kind`, e.g. "ReplicaSet"
    group: str  # "" for the core group
    version: str
    purpose: str
    cluster_scoped: bool = False
    struct: type[Any] = field(kw_only=True)  # the kubediag.objects Struct its objects decode into
    # Never required for a diagnosis: forbidden or missing means the checks needing it are skipped.
    optional: bool = True
    # Served version chosen at run time by API discovery among `versions` (preferred first); see above.
    discovered: bool = False
    versions: tuple[str, ...] = ()

    def path(self, namespace: str | None = None, version: str | None = None) -> str:
        version = version or self.version
        base = f"/api/{version}" if not self.group else f"/apis/{self.group}/{version}"
        ns = f"/namespaces/{quote(namespace, safe='')}" if namespace and not self.cluster_scoped else ""
        return f"{base}{ns}/{KIND_BY_NAME[self.kind].value}"


SPECS: dict[Kind, KindSpec] = {
    Kind.SERVICE: KindSpec(
        "Service",
        "",
        "v1",
        "the Services diagnosed (and look-alike names when one is missing)",
        optional=False,
        struct=objects.Service,
    ),
    Kind.ENDPOINTSLICE: KindSpec(
        "EndpointSlice",
        "discovery.k8s.io",
        "v1",
        "the endpoints the control plane published for each Service",
        optional=False,
        struct=objects.EndpointSlice,
    ),
    Kind.POD: KindSpec(
        "Pod", "", "v1", "selector matching, pod states, container ports", optional=False, struct=objects.Pod
    ),
    Kind.NODE: KindSpec(
        "Node",
        "",
        "v1",
        "scheduling, Local traffic policy, node ports on external addresses (optional)",
        cluster_scoped=True,
        struct=objects.Node,
    ),
    Kind.NETWORKPOLICY: KindSpec(
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "whether policies block the Service's traffic",
        struct=objects.NetworkPolicy,
    ),
    Kind.NAMESPACE: KindSpec(
        "Namespace",
        "",
        "v1",
        "namespace labels for namespaceSelector peers (optional)",
        cluster_scoped=True,
        struct=objects.Namespace,
    ),
    Kind.EVENT: KindSpec("Event", "", "v1", "load-balancer controller events on Services", struct=objects.Event),
    Kind.INGRESS: KindSpec(
        "Ingress", "networking.k8s.io", "v1", "Ingresses that route to a Service", struct=objects.Ingress
    ),
    Kind.DEPLOYMENT: KindSpec(
        "Deployment",
        "apps",
        "v1",
        "workloads whose pod template the selector matches: replicas, who scaled them, creation failures",
        struct=objects.Deployment,
    ),
    Kind.REPLICASET: KindSpec(
        "ReplicaSet",
        "apps",
        "v1",
        "pod creation failures (ReplicaFailure) of a Deployment's ReplicaSets, and bare ReplicaSets",
        struct=objects.ReplicaSet,
    ),
    Kind.STATEFULSET: KindSpec(
        "StatefulSet", "apps", "v1", "StatefulSets scaled to zero or unable to create pods", struct=objects.StatefulSet
    ),
    Kind.DAEMONSET: KindSpec(
        "DaemonSet", "apps", "v1", "DaemonSets that match no node or cannot create pods", struct=objects.DaemonSet
    ),
    Kind.HPA: KindSpec(
        "HorizontalPodAutoscaler",
        "autoscaling",
        "v2",
        "autoscalers (also KEDA's) that set a workload's replicas, and their bounds",
        struct=objects.HorizontalPodAutoscaler,
    ),
    Kind.INGRESSCLASS: KindSpec(
        "IngressClass",
        "networking.k8s.io",
        "v1",
        "whether a controller claims the class of an Ingress routing to a Service (optional)",
        cluster_scoped=True,
        struct=IngressClass,
    ),
    Kind.VALIDATINGWEBHOOK: KindSpec(
        "ValidatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "admission webhooks served by a Service without endpoints, or a missing one (optional)",
        cluster_scoped=True,
        struct=ValidatingWebhookConfiguration,
    ),
    Kind.MUTATINGWEBHOOK: KindSpec(
        "MutatingWebhookConfiguration",
        "admissionregistration.k8s.io",
        "v1",
        "admission webhooks served by a Service without endpoints, or a missing one (optional)",
        cluster_scoped=True,
        struct=MutatingWebhookConfiguration,
    ),
    Kind.APISERVICE: KindSpec(
        "APIService",
        "apiregistration.k8s.io",
        "v1",
        "aggregated APIs served by a Service without endpoints, or a missing one (optional)",
        cluster_scoped=True,
        struct=APIService,
    ),
}

_GW = "gateway.networking.k8s.io"


def _gateway_kind(kind: str, versions: tuple[str, ...], purpose: str, cluster_scoped: bool = False) -> KindSpec:
    return KindSpec(
        kind,
        _GW,
        versions[0],
        purpose,
        cluster_scoped=cluster_scoped,
        struct=getattr(objects, kind),
        discovered=True,
        versions=versions,
    )


_ROUTE_VERSIONS = ("v1", "v1beta1", "v1alpha2")
SPECS.update(
    {
        Kind.HTTPROUTE: _gateway_kind("HTTPRoute", _ROUTE_VERSIONS, "Gateway API routes that send traffic to a Service"),
        Kind.GRPCROUTE: _gateway_kind("GRPCRoute", _ROUTE_VERSIONS, "Gateway API routes that send traffic to a Service"),
        Kind.TLSROUTE: _gateway_kind("TLSRoute", _ROUTE_VERSIONS, "Gateway API routes that send traffic to a Service"),
        Kind.TCPROUTE: _gateway_kind("TCPRoute", _ROUTE_VERSIONS, "Gateway API routes that send traffic to a Service"),
        Kind.UDPROUTE: _gateway_kind("UDPRoute", _ROUTE_VERSIONS, "Gateway API routes that send traffic to a Service"),
        Kind.REFERENCEGRANT: _gateway_kind(
            "ReferenceGrant", ("v1", "v1beta1", "v1alpha2"), "grants that admit cross-namespace route backends"
        ),
        Kind.GATEWAY: _gateway_kind("Gateway", ("v1", "v1beta1"), "the parent Gateways of routes to a Service"),
        Kind.GATEWAYCLASS: _gateway_kind(
            "GatewayClass", ("v1", "v1beta1"), "whether a parent Gateway's class is accepted", cluster_scoped=True
        ),
    }
)
DISCOVERED_KINDS: tuple[Kind, ...] = tuple(k for k, spec in SPECS.items() if spec.discovered)
ROUTE_KINDS: tuple[Kind, ...] = (Kind.HTTPROUTE, Kind.GRPCROUTE, Kind.TLSROUTE, Kind.TCPROUTE, Kind.UDPROUTE)

KIND_BY_NAME: dict[str, Kind] = {spec.kind: kind for kind, spec in SPECS.items()}


def spec_of(kind: Kind) -> KindSpec:
    return SPECS[kind]


def api_path(kind: Kind, namespace: str | None = None, version: str | None = None) -> str:
    return SPECS[kind].path(namespace, version)


class _ListMeta(msgspec.Struct):
    continue_: str = msgspec.field(default="", name="continue")


@cache
def list_type(kind: Kind) -> Any:
    """The Struct a LIST response body of `kind` decodes into (its items as the kind's Structs)."""
    item: Any = SPECS[kind].struct
    return msgspec.defstruct(
        f"{SPECS[kind].kind}List",
        [("items", list[item] | None, None), ("metadata", _ListMeta, msgspec.field(default_factory=_ListMeta))],
    )


def list_decoder(kind: Kind) -> msgspec.json.Decoder[Any]:
    """Decodes ONE LIST response body of `kind` straight into its Structs. A new decoder per body (about a
    microsecond): its `interning_hook` shares the repeated string values of that body, then goes with it."""
    return msgspec.json.Decoder(list_type(kind), dec_hook=interning_hook())


def object_decoder(kind: Kind) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(SPECS[kind].struct, dec_hook=interning_hook())


def warm_decoders(kinds: Iterable[Kind] = ()) -> None:
    """Build the decoders of `kinds` (default: every kind) on the calling thread. msgspec initialises a
    Struct type's decoding info on first use, and doing that from several threads at once can crash the
    interpreter (SIGSEGV in msgspec._core, reproduced with concurrent first decodes): the gatherer calls
    this before its worker threads start."""
    for kind in kinds or SPECS:
        list_decoder(kind).decode(b'{"items":[]}')
        object_decoder(kind)


def decode_list(kind: Kind, body: bytes) -> tuple[list[Any], str]:
    """(items, continue token): the page's items as the kind's Structs, every undeclared field skipped."""
    doc = list_decoder(kind).decode(body)
    items = doc.items or []
    if kind is Kind.POD:
        share_pod_parts(items)
    return items, doc.metadata.continue_


def share_pod_parts(pods: Iterable[objects.Pod]) -> None:
    """Make the pods of one page share their equal parts: a Deployment's replicas carry the same conditions
    (declared without their timestamps), tolerations, container ports, env and probes, each decoded as its own
    Structs (a third of a pod's memory: about 850 B a pod, for about 2 us a pod). Each such field holds a
    tuple or Struct that is immutable and hashable all the way down (frozen Structs of strings, numbers and
    tuples: no dict), so an equal value already seen on the page replaces it; nothing else holds the pods yet
    (they are being decoded), and no code keys anything by the identity of these parts (only of whole pods).
    Container statuses are not shared whole (their startedAt differs from pod to pod on a real cluster), only
    their states.

    The dicts of strings too (labels, annotations, nodeSelector, a container's resource limits; not the
    `resources` Struct holding them): an equal dict, same pairs in the same order, already seen on the page
    replaces it (msgspec decodes even an absent one as a new empty dict per pod). Nothing in kubediag
    modifies an object's dict (callers copy one before adding to it), so sharing is safe; a dict holding a
    number is left alone (1 and 1.0 are equal keys but not the same text)."""
    seen: dict[Any, Any] = {}
    share = seen.setdefault
    dicts: dict[tuple[Any, ...], Any] = {}  # (("key", "value"), ...) -> the first such dict of the page
    share_items = dicts.setdefault
    empty: dict[str, Any] | None = None  # the page's first empty dict
    put = msgspec.structs.force_setattr

    def share_fields(obj: Any, names: tuple[str, ...]) -> None:
        for name in names:
            if (part := getattr(obj, name)) and (same := share(part, part)) is not part:
                put(obj, name, same)

    for pod in pods:
        md, spec = pod.metadata, pod.spec
        # dicts whose values the decoder made str (labels and nodeSelector are IStr, annotations str)
        for obj, name in ((md, "labels"), (md, "annotations"), (spec, "node_selector")):
            if id(obj) in _DEFAULT_PARTS:  # a field's default Struct, shared by every pod without the field
                continue
            d = getattr(obj, name)
            if not d:
                if empty is None:
                    empty = d
                elif d is not empty:
                    put(obj, name, empty)
            elif (same := share_items(tuple(d.items()), d)) is not d:
                put(obj, name, same)
        try:
            share_fields(pod.status, ("conditions",))
            share_fields(spec, _SHARED_SPEC_FIELDS)
            for c in spec.containers:
                share_fields(c, _SHARED_CONTAINER_FIELDS)
                res = c.resources
                if (limits := res.limits) and id(res) not in _DEFAULT_PARTS:
                    items = tuple(limits.items())
                    if all(type(v) is str for _, v in items) and (same := share_items(items, limits)) is not limits:
                        put(res, "limits", same)
            for cs in pod.status.container_statuses:
                share_fields(cs, _SHARED_STATUS_FIELDS)
        except TypeError:  # a part that is not hashable (a dict field added to one of these Structs): unshared
            continue


# The ids of the Structs msgspec gives every pod that lacks the field (one object each, shared by all such
# pods, alive as long as the Struct classes): never modified
_DEFAULT_PARTS = frozenset(map(id, (objects.Pod().metadata, objects.Pod().spec, objects.Container().resources)))
_SHARED_SPEC_FIELDS = ("tolerations", "affinity", "readiness_gates")
_SHARED_CONTAINER_FIELDS = ("ports", "env", "readiness_probe", "liveness_probe", "startup_probe", "command", "args")
_SHARED_STATUS_FIELDS = ("state", "last_state")  # last_state is mostly `{}`; state is equal when started together


def decode_object(kind: Kind, body: bytes) -> Any:
    return object_decoder(kind).decode(body)


def from_builtin(kind: Kind, obj: Mapping[str, Any]) -> Any:
    """A fixture object (YAML) as the gatherer would hold it: the kind's Struct."""
    return msgspec.convert(obj, SPECS[kind].struct, dec_hook=interning_hook())
