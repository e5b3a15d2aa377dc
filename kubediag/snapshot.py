"""The immutable snapshot the checks judge: what was read from the API, indexed, plus per-Service views.

`ClusterData` holds the typed objects (kubediag.objects Structs) of one namespace (`svc`) or the whole scope (`audit`), with
indexes built once so that diagnosing N Services is O(services + pods), not O(services x pods).
`Snapshot` is one Service's view of it. Both are pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kubediag.labels import map_selector_filter
from kubediag.model import REQUIRED_KINDS, Kind, Unavailable
from kubediag.objects import (
    Deployment,
    EndpointSlice,
    Event,
    Ingress,
    KubeObject,
    Namespace,
    NetworkPolicy,
    Node,
    Pod,
    Service,
    ServicePort,
    ServiceSpec,
)

if TYPE_CHECKING:
    from functools import cached_property as _view

    from kubediag.probes import DataPlane
else:

    class _view:
        """functools.cached_property without its per-instance lock (Python 3.11 takes an RLock on every first
        read; an audit reads about ten views of each of 10,000 Snapshots): the value is computed on the first
        read and stored in the instance's __dict__, which later reads find first. Snapshots are read by one
        thread at a time."""

        def __init__(self, func):
            self.func = func
            self.attrname = func.__name__
            self.__doc__ = func.__doc__

        def __set_name__(self, owner, name):
            self.attrname = name

        def __get__(self, instance, owner=None):
            if instance is None:
                return self
            value = instance.__dict__[self.attrname] = self.func(instance)
            return value

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def name_of(obj: KubeObject) -> str:
    return obj.metadata.name


def ns_of(obj: KubeObject) -> str:
    return obj.metadata.namespace


@dataclass(frozen=True)
class ClusterData:
    """Everything read from the API for a scope. Kinds never requested are in neither `read` nor `unavailable`."""

    # The store: every object read, per kind, as the kind's Struct (kubediag.objects). `of(kind)` reads it;
    # the named properties below are typed shorthands.
    objects: Mapping[Kind, tuple[Any, ...]] = field(default_factory=dict)
    read: frozenset[Kind] = frozenset()
    unavailable: Mapping[Kind, Unavailable] = field(default_factory=dict)
    # Services with the looked-up name in other namespaces, and the names in the target namespace:
    # only gathered when the target Service does not exist.
    lookalike_services: tuple[Service, ...] = ()
    # The namespaces that exist, listed only when the target's namespace does not (names to suggest).
    lookalike_namespaces: tuple[str, ...] = ()
    missing_namespaces: frozenset[str] = frozenset()
    # Pods in other namespaces that match the target Service's selector (svc mode reads one namespace).
    foreign_matches: tuple[Pod, ...] = ()
    # Why the target's sibling Services (the namespace's other Services) are unknown, "" when they were
    # listed or not needed: a fix that points the selector at pods must not take another Service's backends.
    sibling_services_unknown: str = ""
    server: str = ""
    # Services looked up by name beyond the target (svc: those an init container waits for): found or not.
    service_lookups: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    # namespaces whose Services were all listed (audit without a label selector); None = every namespace
    services_complete: frozenset[str] | None = frozenset()
    # Kinds read in every namespace (audit -A; svc: Ingresses, when a class-wide look was called for).
    cluster_wide: frozenset[Kind] = frozenset()
    # The cluster DNS (kube-system Services labelled k8s-app=kube-dns and their EndpointSlices) is in the
    # store when `cluster_dns_read`; else `cluster_dns_gap` says why not ("" = not asked for: svc without --from).
    cluster_dns_read: bool = False
    cluster_dns_gap: str = ""
    # beyond the API objects: --probe results and crash logs (kubediag.probes); None = nothing gathered
    data_plane: DataPlane | None = None
    # The API server's clock when the data was read (RFC 3339, from the responses' Date header; "" unknown).
    # Checks compare object timestamps with it; they never read the local clock.
    server_time: str = ""
    # Kinds read at a version chosen by API discovery (Gateway API): the version served, and the kinds the
    # server does not serve at all (recorded as read and empty: their absence is certain).
    served_versions: Mapping[Kind, str] = field(default_factory=dict)
    unserved: frozenset[Kind] = frozenset()
    # Kinds read only in part, and what is missing (svc: routes of the Service's namespace only, when the
    # cluster-wide LIST was forbidden).
    partial: Mapping[Kind, str] = field(default_factory=dict)
    # The namespaces a namespaced kind was read in, for kinds read in only some namespaces (audit -n, svc's
    # parent Gateways): absence outside them is unknown. A kind not in here was read in every namespace.
    coverage: Mapping[Kind, frozenset[str]] = field(default_factory=dict)

    def covers(self, kind: Kind, namespace: str) -> bool:
        """Whether objects of `kind` in `namespace` were read (so their absence there is known)."""
        return self.missing(kind) is None and (kind not in self.coverage or namespace in self.coverage[kind])
    # derived results of pure functions over this data (like cached_property, for parameterised lookups)
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def of(self, kind: Kind) -> tuple[Any, ...]:
        """Every object of `kind` that was read (empty when not read: see `missing`)."""
        return self.objects.get(kind, ())

    @property
    def services(self) -> tuple[Service, ...]:
        return self.of(Kind.SERVICE)

    @property
    def endpointslices(self) -> tuple[EndpointSlice, ...]:
        return self.of(Kind.ENDPOINTSLICE)

    @property
    def pods(self) -> tuple[Pod, ...]:
        return self.of(Kind.POD)

    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.of(Kind.NODE)

    @property
    def networkpolicies(self) -> tuple[NetworkPolicy, ...]:
        return self.of(Kind.NETWORKPOLICY)

    @property
    def namespaces(self) -> tuple[Namespace, ...]:
        return self.of(Kind.NAMESPACE)

    @property
    def events(self) -> tuple[Event, ...]:
        return self.of(Kind.EVENT)

    @property
    def ingresses(self) -> tuple[Ingress, ...]:
        return self.of(Kind.INGRESS)

    @property
    def deployments(self) -> tuple[Deployment, ...]:
        return self.of(Kind.DEPLOYMENT)

    def by_namespace(self, kind: Kind) -> Mapping[str, tuple[Any, ...]]:
        """Objects of `kind` per namespace, built once per kind."""
        key = ("by_namespace", kind)
        if key not in self.memo:
            out: dict[str, list[Any]] = defaultdict(list)
            for o in self.of(kind):
                out[o.metadata.namespace if hasattr(o, "metadata") else ns_of(o)].append(o)
            self.memo[key] = {k: tuple(v) for k, v in out.items()}
        return self.memo[key]  # type: ignore[no-any-return]

    def service_exists(self, namespace: str, name: str) -> bool | None:
        """Whether Service namespace/name exists: True, False, or None when kubediag did not read it."""
        if (namespace, name) in self.services_by_key:
            return True
        if (namespace, name) in self.service_lookups:
            return self.service_lookups[(namespace, name)]
        if Kind.SERVICE in self.read and (
            self.services_complete is None or namespace in self.services_complete
        ):
            return False
        return None

    # ---- availability -------------------------------------------------------------------------------
    def missing(self, kind: Kind) -> Unavailable | None:
        """Why `kind` cannot be relied on, or None when it was read completely."""
        if kind in self.unavailable:
            return self.unavailable[kind]
        if kind not in self.read:
            return Unavailable(kind, "not-read", f"{kind.value} were not gathered")
        return None

    @property
    def incomplete_required(self) -> bool:
        return any(k in self.unavailable for k in REQUIRED_KINDS)

    # ---- indexes ------------------------------------------------------------------------------------
    @cached_property
    def pods_by_ns(self) -> Mapping[str, tuple[Pod, ...]]:
        out: dict[str, list[Pod]] = defaultdict(list)
        for p in self.pods:
            out[p.metadata.namespace].append(p)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def _pod_label_index(self) -> Mapping[tuple[str, str, str], tuple[Pod, ...]]:
        out: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
        for p in self.pods:
            ns = p.metadata.namespace
            for k, v in p.metadata.labels.items():
                out[(ns, k, str(v))].append(p)
        return {k: tuple(v) for k, v in out.items()}

    def pods_matching(self, namespace: str, selector: Mapping[str, str]) -> tuple[Pod, ...]:
        """Pods in `namespace` whose labels contain every pair of a (non-empty) Service selector."""
        if not selector:
            return ()
        idx = self._pod_label_index
        candidates = min((idx.get((namespace, k, str(v)), ()) for k, v in selector.items()), key=len)
        return map_selector_filter(selector, candidates)

    def pods_matching_any_ns(self, selector: Mapping[str, str]) -> tuple[Pod, ...]:
        return tuple(p for ns in self.pods_by_ns for p in self.pods_matching(ns, selector))

    @cached_property
    def slices_by_service(self) -> Mapping[tuple[str, str], tuple[EndpointSlice, ...]]:
        out: dict[tuple[str, str], list[EndpointSlice]] = defaultdict(list)
        for s in self.endpointslices:
            svc = s.metadata.labels.get(SERVICE_NAME_LABEL)
            if svc:
                out[(s.metadata.namespace, svc)].append(s)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def events_by_object(self) -> Mapping[tuple[str, str, str], tuple[Event, ...]]:
        out: dict[tuple[str, str, str], list[Event]] = defaultdict(list)
        for e in self.events:
            inv = e.involved_object
            out[(inv.namespace or e.metadata.namespace, inv.kind, inv.name)].append(e)
        return {k: tuple(v) for k, v in out.items()}

    def events_for(self, kind: str, namespace: str, name: str) -> tuple[Event, ...]:
        return self.events_by_object.get((namespace, kind, name), ())

    def _by_ns(self, objs: tuple[KubeObject, ...]) -> Mapping[str, tuple[KubeObject, ...]]:
        out: dict[str, list[KubeObject]] = defaultdict(list)
        for o in objs:
            out[ns_of(o)].append(o)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def ingresses_by_ns(self) -> Mapping[str, tuple[Ingress, ...]]:
        return self.by_namespace(Kind.INGRESS)

    @cached_property
    def networkpolicies_by_ns(self) -> Mapping[str, tuple[NetworkPolicy, ...]]:
        return self.by_namespace(Kind.NETWORKPOLICY)

    @property
    def deployments_by_ns(self) -> Mapping[str, tuple[Deployment, ...]]:
        return self.by_namespace(Kind.DEPLOYMENT)

    @cached_property
    def services_by_key(self) -> Mapping[tuple[str, str], Service]:
        return {(s.metadata.namespace, s.metadata.name): s for s in self.services}

    @cached_property
    def services_by_ns(self) -> Mapping[str, tuple[Service, ...]]:
        return self.by_namespace(Kind.SERVICE)

    @cached_property
    def pods_by_owner(self) -> Mapping[tuple[str, str], tuple[Pod, ...]]:
        """(namespace, "deployment/web") -> its pods. A pod without owner is not in it: it would be the only
        pod of its own key "pod/<name>" (`owner_label`), one entry per bare pod for nothing."""
        from kubediag.workloads import owner_of  # workloads imports this module

        out: dict[tuple[str, str], list[Pod]] = defaultdict(list)
        for p in self.pods:
            o = owner_of(p)
            if o is not None:
                out[(p.metadata.namespace, str(o))].append(p)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def namespaces_by_name(self) -> Mapping[str, Namespace]:
        return {n.metadata.name: n for n in self.namespaces}

    @cached_property
    def nodes_by_name(self) -> Mapping[str, Node]:
        return {n.metadata.name: n for n in self.nodes}

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        """Labels of a namespace; the immutable kubernetes.io/metadata.name label is always present.
        Built once per namespace: callers must not modify the mapping (copy it)."""
        key = ("namespace_labels", namespace)
        if key not in self.memo:
            obj = self.namespaces_by_name.get(namespace)
            labels = dict(obj.metadata.labels) if obj is not None else {}
            labels.setdefault("kubernetes.io/metadata.name", namespace)
            self.memo[key] = labels
        return self.memo[key]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ClientRef:
    """The `--from` client: a pod (namespace/name)."""

    namespace: str
    name: str


_NO_SPEC = ServiceSpec()  # the spec of a Service that does not exist


@dataclass(frozen=True)
class Snapshot:
    """One Service's view of the cluster data. Derived views are cached: the data is immutable."""

    namespace: str
    name: str
    data: ClusterData
    client: ClientRef | None = None

    @_view
    def service(self) -> Service | None:
        return self.data.services_by_key.get((self.namespace, self.name))

    @_view
    def spec(self) -> ServiceSpec:
        return self.service.spec if self.service is not None else _NO_SPEC

    @_view
    def svc_type(self) -> str:
        return self.spec.type or "ClusterIP"

    @_view
    def selector(self) -> Mapping[str, str]:
        return self.spec.selector

    @_view
    def ports(self) -> tuple[ServicePort, ...]:
        return tuple(self.spec.ports)

    @_view
    def headless(self) -> bool:
        return self.spec.cluster_ip == "None"

    @_view
    def selected_pods(self) -> tuple[Pod, ...]:
        return self.data.pods_matching(self.namespace, self.selector)

    @_view
    def namespace_pods(self) -> tuple[Pod, ...]:
        return self.data.pods_by_ns.get(self.namespace, ())

    @_view
    def slices(self) -> tuple[EndpointSlice, ...]:
        return self.data.slices_by_service.get((self.namespace, self.name), ())

    @_view
    def client_pod(self) -> Pod | None:
        if self.client is None:
            return None
        for p in self.data.pods_by_ns.get(self.client.namespace, ()):
            if p.metadata.name == self.client.name:
                return p
        return None

    @_view
    def memo(self) -> dict[Any, Any]:
        """Derived results about this Service alone that several checks ask for: dropped with the Snapshot
        (ClusterData.memo keeps what other Services share)."""
        return {}

    @property
    def dns_name(self) -> str:
        return f"{self.name}.{self.namespace}.svc.cluster.local"
