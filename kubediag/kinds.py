"""One entry per kind the gatherer reads: its API group/version, scope, the typed Struct its objects decode
into, and what it is read for (shown by `kubediag rbac`).

Adding a kind is one Struct in `kubediag.objects`, one `Kind` member and one `KindSpec` here: the gatherer,
the snapshot store (`ClusterData.of`), the fixtures loader and the RBAC rules all read this table.
Kinds whose `struct` is None are still decoded to plain JSON (dicts) until their checks move to typed
attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import msgspec

from kubediag import objects
from kubediag.model import Kind


@dataclass(frozen=True)
class KindSpec:
    kind: str  # the object's `kind`, e.g. "ReplicaSet"
    group: str  # "" for the core group
    version: str
    purpose: str
    cluster_scoped: bool = False
    struct: type[Any] | None = None  # a kubediag.objects Struct, or None for raw JSON
    # Never required for a diagnosis: forbidden or missing means the checks needing it are skipped.
    optional: bool = True

    def path(self, namespace: str | None = None) -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        ns = f"/namespaces/{quote(namespace, safe='')}" if namespace and not self.cluster_scoped else ""
        return f"{base}{ns}/{KIND_BY_NAME[self.kind].value}"


SPECS: dict[Kind, KindSpec] = {
    Kind.SERVICE: KindSpec(
        "Service", "", "v1", "the Services diagnosed (and look-alike names when one is missing)", optional=False
    ),
    Kind.ENDPOINTSLICE: KindSpec(
        "EndpointSlice",
        "discovery.k8s.io",
        "v1",
        "the endpoints the control plane published for each Service",
        optional=False,
    ),
    Kind.POD: KindSpec("Pod", "", "v1", "selector matching, pod states, container ports", optional=False),
    Kind.NODE: KindSpec(
        "Node",
        "",
        "v1",
        "scheduling, Local traffic policy, node ports on external addresses (optional)",
        cluster_scoped=True,
    ),
    Kind.NETWORKPOLICY: KindSpec(
        "NetworkPolicy", "networking.k8s.io", "v1", "whether policies block the Service's traffic"
    ),
    Kind.NAMESPACE: KindSpec(
        "Namespace", "", "v1", "namespace labels for namespaceSelector peers (optional)", cluster_scoped=True
    ),
    Kind.EVENT: KindSpec("Event", "", "v1", "load-balancer controller events on Services"),
    Kind.INGRESS: KindSpec("Ingress", "networking.k8s.io", "v1", "Ingresses that route to a Service"),
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
}

KIND_BY_NAME: dict[str, Kind] = {spec.kind: kind for kind, spec in SPECS.items()}


def spec_of(kind: Kind) -> KindSpec:
    return SPECS[kind]


def api_path(kind: Kind, namespace: str | None = None) -> str:
    return SPECS[kind].path(namespace)


class _ListMeta(msgspec.Struct):
    continue_: str = msgspec.field(default="", name="continue")


@cache
def list_decoder(kind: Kind) -> msgspec.json.Decoder[Any]:
    """Decodes a LIST response body of `kind` straight into its Structs (or raw dicts when untyped)."""
    item: Any = SPECS[kind].struct or dict[str, Any]
    body = msgspec.defstruct(
        f"{SPECS[kind].kind}List",
        [("items", list[item] | None, None), ("metadata", _ListMeta, msgspec.field(default_factory=_ListMeta))],
    )
    return msgspec.json.Decoder(body)


@cache
def object_decoder(kind: Kind) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(SPECS[kind].struct or dict[str, Any])


def decode_list(kind: Kind, body: bytes) -> tuple[list[Any], str]:
    """(items, continue token). Raw items get their kind/apiVersion back (a List's items carry neither) and
    lose metadata.managedFields."""
    doc = list_decoder(kind).decode(body)
    items: list[Any] = doc.items or []
    spec = SPECS[kind]
    if spec.struct is None:
        api_version = f"{spec.group}/{spec.version}" if spec.group else spec.version
        for it in items:
            it.setdefault("kind", spec.kind)
            it.setdefault("apiVersion", api_version)
            md = it.get("metadata")
            if isinstance(md, dict):
                md.pop("managedFields", None)  # typed kinds skip them unless their Struct uses ManagedMeta
    return items, doc.metadata.continue_


def decode_object(kind: Kind, body: bytes) -> Any:
    obj = object_decoder(kind).decode(body)
    spec = SPECS[kind]
    if spec.struct is None and isinstance(obj, dict):
        obj.setdefault("kind", spec.kind)
        obj.setdefault("apiVersion", f"{spec.group}/{spec.version}" if spec.group else spec.version)
    return obj


def from_builtin(kind: Kind, obj: Mapping[str, Any]) -> Any:
    """A fixture object (YAML) as the gatherer would hold it: the kind's Struct, or the dict itself."""
    struct = SPECS[kind].struct
    if struct is None:
        return obj
    return msgspec.convert(obj, struct)
