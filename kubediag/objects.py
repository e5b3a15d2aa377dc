"""Typed, pruned models of the API objects the checks read: one msgspec Struct family per kind.

Each Struct declares only the fields some check reads; everything else in a response is skipped while
decoding (no intermediate dicts). Field names are the API's camelCase (`rename="camel"`); missing fields
get the default the API server would apply or an empty value. Unit fixtures (YAML) are converted with the
same Structs (`msgspec.convert`), so a check sees the same types from a fixture as from a live cluster.

Adding a kind: one Struct here and one entry in `kubediag.kinds.SPECS`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

# ---- interned strings -----------------------------------------------------------------------------------
# msgspec gives every string VALUE of a document its own object (it caches short dict keys only), yet most
# values repeat across a LIST's items: "True" in every pod condition, "TCP", "NoExecute", label values, the
# node name, the image. A field declared `IStr` (or `IStrOrNull` for `str | None`) holds a plain `str` that
# the decoder shares among every equal value of the same response (`interning_hook`): 150,000 pods hold a
# few hundred distinct such strings, not millions. Names, uids and IPs, which rarely repeat, stay `str`.
# For type checkers both are `str` (resp. `str | None`); at run time they are marker classes that accept
# exactly what `str` (resp. `str | None`) accepts, so the Structs hold plain `str` objects only (never a
# subclass that YAML or JSON writers would treat differently).
if TYPE_CHECKING:
    IStr = str
    IStrOrNull = str | None
else:

    # msgspec checks what the hook returns with isinstance(value, IStr): the check must accept a plain `str`,
    # and in C (a Python __instancecheck__ would double the cost of decoding a pod).
    class _StrType(type):
        __instancecheck__ = staticmethod(partial(type.__instancecheck__, str))

    class _StrOrNullType(type):
        def __instancecheck__(cls, obj: object) -> bool:
            return obj is None or isinstance(obj, str)

    class IStr(metaclass=_StrType):
        """A `str` field whose values are interned per decoded document (see `interning_hook`)."""

    class IStrOrNull(metaclass=_StrOrNullType):
        """A `str | None` field whose values are interned per decoded document."""


_JSON_TYPE = {type(None): "null", list: "array", dict: "object"}


def interning_hook() -> Callable[[Any, Any], Any]:
    """A msgspec `dec_hook` with a fresh cache: every `IStr` value it sees becomes the first equal string it
    saw. One per decode (a LIST page, a fixture), so the cache lives no longer than that document. A value of
    another type fails with msgspec's own message for a `str` (or `str | None`) field."""
    seen: dict[str, str] = {}
    share = seen.setdefault

    def hook(tp: Any, obj: Any) -> Any:
        if type(obj) is str:
            return share(obj, obj)
        if isinstance(obj, str) or (obj is None and tp is IStrOrNull):
            return obj
        expected = "str | null" if tp is IStrOrNull else "str"
        raise TypeError(f"Expected `{expected}`, got `{_JSON_TYPE.get(type(obj), type(obj).__name__)}`")

    return hook


class Base(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True, gc=False):
    """Common options: immutable, camelCase on the wire, unknown fields ignored. `gc=False`: decoded JSON holds
    no reference cycles, so the cycle collector need not track (nor scan) the millions of Structs of a large
    snapshot, and each saves the collector's 16-byte header."""


class OwnerReference(Base, frozen=True):
    kind: IStr = ""
    name: IStr = ""
    uid: IStr = ""
    controller: bool = False


class ManagedFieldsEntry(Base, frozen=True):
    manager: str = ""
    operation: str = ""
    time: str = ""
    subresource: str = ""
    fields_v1: dict[str, Any] = {}

    def touches(self, *path: str) -> bool:
        """Whether this manager owns the field `f:a` / `f:b` (e.g. touches("spec", "replicas"))."""
        node: Any = self.fields_v1
        for part in path:
            if not isinstance(node, dict) or f"f:{part}" not in node:
                return False
            node = node[f"f:{part}"]
        return True


class ObjectMeta(Base, frozen=True):
    # no uid: no check reads it, and a distinct 36-character string per object was 85 B of each pod
    name: str = ""
    namespace: IStr = ""
    labels: dict[str, IStr] = {}
    annotations: dict[str, str] = {}
    owner_references: tuple[OwnerReference, ...] = ()
    creation_timestamp: IStr = ""
    deletion_timestamp: str = ""
    generation: int = 0

    @property
    def controller(self) -> OwnerReference | None:
        return next((o for o in self.owner_references if o.controller), None)


class KubeObject(Protocol):
    """Any kind's Struct, as the generic helpers (name_of, ns_of, labels_of, the store) read it."""

    @property
    def metadata(self) -> ObjectMeta: ...


class ManagedMeta(ObjectMeta, frozen=True):
    """ObjectMeta with managedFields, for the few kinds whose checks say who set a field (spec.replicas).
    Every other kind's Struct uses ObjectMeta, so managedFields are skipped while decoding."""

    managed_fields: tuple[ManagedFieldsEntry, ...] = ()


class Condition(Base, frozen=True):
    type: IStr = ""
    status: IStr = ""
    reason: IStr = ""
    message: IStr = ""
    # null when a controller patched the condition in without it (a real API server serves that as null)
    last_transition_time: IStrOrNull = None


class LabelSelectorRequirement(Base, frozen=True):
    key: str = ""
    operator: str = ""
    values: tuple[str, ...] = ()


class LabelSelector(Base, frozen=True):
    match_labels: dict[str, str] = {}
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()


class PodTemplateMeta(Base, frozen=True):
    labels: dict[str, IStr] = {}
    annotations: dict[str, str] = {}


class PodTemplate(Base, frozen=True):
    """A workload's pod template: its spec is judged by the same helpers as a pod's (PodSpec, in the Pod
    section below; None only when the template has no spec)."""

    metadata: PodTemplateMeta = PodTemplateMeta()
    spec: PodSpec | None = None


def conditions_get(conditions: tuple[Condition, ...], ctype: str) -> Condition | None:
    return next((c for c in conditions if c.type == ctype), None)


# ---- consumers of a Service: IngressClasses, admission webhooks, aggregated APIs -----------------------
class IngressClassSpec(Base, frozen=True):
    controller: str = ""


class IngressClass(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: IngressClassSpec = IngressClassSpec()

    @property
    def is_default(self) -> bool:
        return self.metadata.annotations.get("ingressclass.kubernetes.io/is-default-class") == "true"


class ServiceReference(Base, frozen=True):
    """A webhook's or APIService's backend Service (port defaults to 443, as the API server applies)."""

    namespace: str = ""
    name: str = ""
    path: str = ""
    port: int = 443


class WebhookClientConfig(Base, frozen=True):
    service: ServiceReference | None = None
    url: str = ""


class RuleWithOperations(Base, frozen=True):
    api_groups: tuple[str, ...] = ()
    api_versions: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    scope: str = "*"


class Webhook(Base, frozen=True):
    """One webhook of a Validating- or MutatingWebhookConfiguration (the fields both kinds share)."""

    client_config: WebhookClientConfig = WebhookClientConfig()
    failure_policy: str = "Fail"
    name: str = ""
    namespace_selector: LabelSelector = LabelSelector()
    object_selector: LabelSelector = LabelSelector()
    rules: tuple[RuleWithOperations, ...] = ()
    timeout_seconds: int = 10


class ValidatingWebhookConfiguration(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    webhooks: tuple[Webhook, ...] = ()


class MutatingWebhookConfiguration(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    webhooks: tuple[Webhook, ...] = ()


class APIServiceSpec(Base, frozen=True):
    group: str = ""
    service: ServiceReference | None = None
    version: str = ""


class APIServiceStatus(Base, frozen=True):
    conditions: tuple[Condition, ...] = ()


class APIService(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: APIServiceSpec = APIServiceSpec()
    status: APIServiceStatus = APIServiceStatus()
# ---- Gateway API (gateway.networking.k8s.io) -------------------------------------------------------------
# The route kinds share one shape for what the checks read (parentRefs, rules[].backendRefs, status.parents),
# so each kind's Struct is the same `Route` under its own name. Versions: the fields read here are the same in
# every served version (v1, v1beta1, v1alpha2); the gatherer reads the version API discovery reports.

GATEWAY_GROUP = "gateway.networking.k8s.io"


class ParentReference(Base, frozen=True):
    group: str = GATEWAY_GROUP
    kind: str = "Gateway"
    namespace: str = ""  # "" = the route's namespace
    name: str = ""
    section_name: str = ""
    port: int | None = None


class BackendRef(Base, frozen=True):
    group: str = ""  # "" = the core group
    kind: str = "Service"
    name: str = ""
    namespace: str = ""  # "" = the route's namespace
    port: int | None = None
    weight: int = 1


class RouteRule(Base, frozen=True):
    name: str = ""
    backend_refs: tuple[BackendRef, ...] = ()


class RouteSpec(Base, frozen=True):
    parent_refs: tuple[ParentReference, ...] = ()
    hostnames: tuple[str, ...] = ()
    rules: tuple[RouteRule, ...] = ()


class RouteParentStatus(Base, frozen=True):
    parent_ref: ParentReference = ParentReference()
    controller_name: str = ""
    conditions: tuple[Condition, ...] = ()


class RouteStatus(Base, frozen=True):
    parents: tuple[RouteParentStatus, ...] = ()


class Route(Base, frozen=True):
    """What the checks read of any route kind; `KIND` names the kind (a LIST's items carry no `kind`)."""

    KIND: ClassVar[str] = ""
    metadata: ObjectMeta = ObjectMeta()
    spec: RouteSpec = RouteSpec()
    status: RouteStatus = RouteStatus()


class HTTPRoute(Route, frozen=True):
    KIND: ClassVar[str] = "HTTPRoute"


class GRPCRoute(Route, frozen=True):
    KIND: ClassVar[str] = "GRPCRoute"


class TLSRoute(Route, frozen=True):
    KIND: ClassVar[str] = "TLSRoute"


class TCPRoute(Route, frozen=True):
    KIND: ClassVar[str] = "TCPRoute"


class UDPRoute(Route, frozen=True):
    KIND: ClassVar[str] = "UDPRoute"


class ReferenceGrantFrom(Base, frozen=True):
    group: str = ""
    kind: str = ""
    namespace: str = ""


class ReferenceGrantTo(Base, frozen=True):
    group: str = ""
    kind: str = ""
    name: str = ""  # "" = every object of that kind in the grant's namespace


class ReferenceGrantSpec(Base, frozen=True):
    from_: tuple[ReferenceGrantFrom, ...] = msgspec.field(default=(), name="from")
    to: tuple[ReferenceGrantTo, ...] = ()


class ReferenceGrant(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: ReferenceGrantSpec = ReferenceGrantSpec()


class RouteNamespaces(Base, frozen=True):
    from_: str = msgspec.field(default="Same", name="from")  # Same (the API's default) | All | Selector


class AllowedRoutes(Base, frozen=True):
    namespaces: RouteNamespaces = RouteNamespaces()


class Listener(Base, frozen=True):
    name: str = ""
    port: int = 0
    protocol: str = ""
    allowed_routes: AllowedRoutes = AllowedRoutes()


class GatewaySpec(Base, frozen=True):
    gateway_class_name: str = ""
    listeners: tuple[Listener, ...] = ()


class ConditionsStatus(Base, frozen=True):
    conditions: tuple[Condition, ...] = ()


class Gateway(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: GatewaySpec = GatewaySpec()
    status: ConditionsStatus = ConditionsStatus()


class GatewayClassSpec(Base, frozen=True):
    controller_name: str = ""


class GatewayClass(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: GatewayClassSpec = GatewayClassSpec()
    status: ConditionsStatus = ConditionsStatus()


class PodTemplateLabels(Base, frozen=True):
    """A pod template read for its labels only (ReplicaSets: many, and their pod specs are never judged)."""

    metadata: PodTemplateMeta = PodTemplateMeta()


# ---- workloads (apps/v1) and their autoscalers ----------------------------------------------------------


class DeploymentSpec(Base, frozen=True):
    replicas: int = 1
    selector: LabelSelector = LabelSelector()
    template: PodTemplate = PodTemplate()
    paused: bool = False


class DeploymentStatus(Base, frozen=True):
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    conditions: tuple[Condition, ...] = ()


class Deployment(Base, frozen=True):
    metadata: ManagedMeta = ManagedMeta()
    spec: DeploymentSpec = DeploymentSpec()
    status: DeploymentStatus = DeploymentStatus()


class ReplicaSetSpec(Base, frozen=True):
    replicas: int = 1
    selector: LabelSelector = LabelSelector()
    template: PodTemplateLabels = PodTemplateLabels()


class ReplicaSetStatus(Base, frozen=True):
    replicas: int = 0
    ready_replicas: int = 0
    conditions: tuple[Condition, ...] = ()


class ReplicaSet(Base, frozen=True):
    metadata: ManagedMeta = ManagedMeta()
    spec: ReplicaSetSpec = ReplicaSetSpec()
    status: ReplicaSetStatus = ReplicaSetStatus()


class StatefulSetSpec(Base, frozen=True):
    replicas: int = 1
    selector: LabelSelector = LabelSelector()
    template: PodTemplate = PodTemplate()
    service_name: str = ""


class StatefulSetStatus(Base, frozen=True):
    replicas: int = 0
    ready_replicas: int = 0
    conditions: tuple[Condition, ...] = ()


class StatefulSet(Base, frozen=True):
    metadata: ManagedMeta = ManagedMeta()
    spec: StatefulSetSpec = StatefulSetSpec()
    status: StatefulSetStatus = StatefulSetStatus()


class DaemonSetSpec(Base, frozen=True):
    selector: LabelSelector = LabelSelector()
    template: PodTemplate = PodTemplate()


class DaemonSetStatus(Base, frozen=True):
    desired_number_scheduled: int = 0
    current_number_scheduled: int = 0
    number_ready: int = 0
    observed_generation: int = 0
    conditions: tuple[Condition, ...] = ()


class DaemonSet(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: DaemonSetSpec = DaemonSetSpec()
    status: DaemonSetStatus = DaemonSetStatus()


class CrossVersionObjectReference(Base, frozen=True):
    kind: str = ""
    name: str = ""
    api_version: str = ""


class HPASpec(Base, frozen=True):
    scale_target_ref: CrossVersionObjectReference = CrossVersionObjectReference()
    min_replicas: int = 1
    max_replicas: int = 0


class HPAStatus(Base, frozen=True):
    current_replicas: int = 0
    desired_replicas: int = 0
    conditions: tuple[Condition, ...] = ()


class HorizontalPodAutoscaler(Base, frozen=True):
    """autoscaling/v2. KEDA's ScaledObjects manage one each (label `scaledobject.keda.sh/name`)."""

    metadata: ObjectMeta = ObjectMeta()
    spec: HPASpec = HPASpec()
    status: HPAStatus = HPAStatus()


# ---- core/v1 Pod (and the PodSpec shared with workload templates) ---------------------------------------
# Pods are the most numerous kind (150,000 at the largest size): only what the checks read is declared.
# IntOrString ports are `int | str`; `X | None = None` where the checks test presence (probe handlers, the
# container states, dnsConfig lists).


class PodMeta(ObjectMeta, frozen=True):
    """ObjectMeta with finalizers (which hold a terminating pod)."""

    finalizers: tuple[IStr, ...] = ()


class ContainerPort(Base, frozen=True):
    name: IStr = ""
    container_port: int = 0
    protocol: IStr = "TCP"


class HTTPGetAction(Base, frozen=True):
    path: IStr = "/"
    port: int | str | None = None
    scheme: IStr = "HTTP"


class TCPSocketAction(Base, frozen=True):
    port: int | str | None = None


class GRPCAction(Base, frozen=True):
    port: int | None = None


class ExecAction(Base, frozen=True):
    command: tuple[IStr, ...] = ()


class Probe(Base, frozen=True):
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    exec: ExecAction | None = None


class EnvVar(Base, frozen=True):
    """A literal env value ("" for valueFrom: the checks read literal values only)."""

    name: IStr = ""
    value: IStr = ""


class ResourceRequirements(Base, frozen=True):
    limits: dict[str, str | int | float] = {}


class Container(Base, frozen=True):
    name: IStr = ""
    image: IStr = ""
    command: tuple[IStr, ...] = ()
    args: tuple[IStr, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    env: tuple[EnvVar, ...] = ()
    resources: ResourceRequirements = ResourceRequirements()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    restart_policy: IStr = ""  # init containers: "Always" makes a native sidecar


class PodReadinessGate(Base, frozen=True):
    condition_type: IStr = ""


class PodSchedulingGate(Base, frozen=True):
    name: IStr = ""


class Toleration(Base, frozen=True):
    key: IStr = ""
    operator: IStr = "Equal"
    value: IStr = ""
    effect: IStr = ""


class NodeSelectorTerm(Base, frozen=True):
    """Node requirements share LabelSelectorRequirement's shape (key, operator, values; plus Gt/Lt)."""

    match_expressions: tuple[LabelSelectorRequirement, ...] = ()
    match_fields: tuple[LabelSelectorRequirement, ...] = ()


class NodeSelector(Base, frozen=True):
    node_selector_terms: tuple[NodeSelectorTerm, ...] = ()


class NodeAffinity(Base, frozen=True):
    required_during_scheduling_ignored_during_execution: NodeSelector = NodeSelector()


class Affinity(Base, frozen=True):
    node_affinity: NodeAffinity = NodeAffinity()


class PodDNSConfigOption(Base, frozen=True):
    name: str = ""


class PodDNSConfig(Base, frozen=True):
    """None: the key is absent (a fix removes only the keys that are there)."""

    nameservers: tuple[str, ...] | None = None
    searches: tuple[str, ...] | None = None
    options: tuple[PodDNSConfigOption, ...] | None = None


class PodSpec(Base, frozen=True):
    containers: tuple[Container, ...] = ()
    init_containers: tuple[Container, ...] = ()
    node_name: IStr = ""
    node_selector: dict[str, IStr] = {}
    affinity: Affinity = Affinity()
    tolerations: tuple[Toleration, ...] = ()
    scheduler_name: IStr = "default-scheduler"
    scheduling_gates: tuple[PodSchedulingGate, ...] = ()
    readiness_gates: tuple[PodReadinessGate, ...] = ()
    host_network: bool = False
    dns_policy: IStr = "ClusterFirst"
    dns_config: PodDNSConfig = PodDNSConfig()
    enable_service_links: bool = True
    hostname: str = ""
    subdomain: str = ""


class ContainerStateWaiting(Base, frozen=True):
    reason: IStr = ""
    message: IStr = ""


class ContainerStateRunning(Base, frozen=True):
    started_at: IStrOrNull = None  # a metav1.Time: null when unset


class ContainerStateTerminated(Base, frozen=True):
    exit_code: int = 0
    reason: IStr = ""
    message: IStr = ""


class ContainerState(Base, frozen=True):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(Base, frozen=True):
    name: IStr = ""
    image: IStr = ""
    restart_count: int = 0
    started: bool | None = None
    state: ContainerState = ContainerState()
    last_state: ContainerState = ContainerState()


class PodIP(Base, frozen=True):
    ip: IStr = ""


class PodCondition(Base, frozen=True):
    """A pod condition without its timestamps (unread): a condition a controller patched in without
    lastTransitionTime comes back with `"lastTransitionTime": null`, which a `str` field would refuse."""

    type: IStr = ""
    status: IStr = ""
    reason: IStr = ""
    message: IStr = ""


class PodStatus(Base, frozen=True):
    phase: IStr = "Pending"
    reason: IStr = ""
    message: IStr = ""
    conditions: tuple[PodCondition, ...] = ()
    pod_ip: IStr = msgspec.field(default="", name="podIP")  # interned: the same string as pod_ips[0].ip
    pod_ips: tuple[PodIP, ...] = msgspec.field(default=(), name="podIPs")
    host_ip: IStr = msgspec.field(default="", name="hostIP")
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()


class Pod(Base, frozen=True):
    metadata: PodMeta = PodMeta()
    spec: PodSpec = PodSpec()
    status: PodStatus = PodStatus()



# ---- core/v1 Service ------------------------------------------------------------------------------------
class ServicePort(Base, frozen=True):
    name: IStr = ""
    protocol: IStr = "TCP"
    port: int = 0
    # None: not set. The API server sets it to `port` on create; fixtures may leave it out. See `target`.
    target_port: int | str | None = None
    node_port: int = 0  # 0: no node port allocated
    app_protocol: IStr = ""

    @property
    def target(self) -> int | str:
        """The effective targetPort: `target_port`, or `port` when it is not set."""
        return self.port if self.target_port is None else self.target_port


class ServiceSpec(Base, frozen=True):
    type: IStr = "ClusterIP"
    selector: dict[str, IStr] = {}
    ports: tuple[ServicePort, ...] = ()
    cluster_ip: str = msgspec.field(default="", name="clusterIP")  # "None": headless; "" for ExternalName
    cluster_ips: tuple[str, ...] = msgspec.field(default=(), name="clusterIPs")
    external_ips: tuple[str, ...] = msgspec.field(default=(), name="externalIPs")
    external_name: str = ""
    external_traffic_policy: IStr = ""  # the API server defaults it to Cluster for NodePort/LoadBalancer
    internal_traffic_policy: IStr = ""  # and to Cluster for every type but ExternalName
    load_balancer_class: str = ""


class LoadBalancerIngress(Base, frozen=True):
    ip: str = ""
    hostname: str = ""


class LoadBalancerStatus(Base, frozen=True):
    ingress: tuple[LoadBalancerIngress, ...] = ()


class ServiceStatus(Base, frozen=True):
    load_balancer: LoadBalancerStatus = LoadBalancerStatus()


class Service(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: ServiceSpec = ServiceSpec()
    status: ServiceStatus = ServiceStatus()



# ---- discovery.k8s.io/v1 EndpointSlice --------------------------------------------------------------------
class EndpointConditions(Base, frozen=True):
    """Unset (None) is not False: a missing `ready` means ready, as consumers of slices must read it."""

    ready: bool | None = None
    terminating: bool | None = None


class EndpointTargetRef(Base, frozen=True):
    kind: IStr = ""  # "" = unset: KD401 counts such an endpoint as a pod, kubediag.probes does not
    name: str = ""


class SliceEndpoint(Base, frozen=True):
    """One endpoint of an EndpointSlice (the API's `Endpoint`; renamed beside kubediag.probes.Endpoint)."""

    addresses: tuple[str, ...] = ()
    conditions: EndpointConditions = EndpointConditions()
    target_ref: EndpointTargetRef | None = None
    node_name: IStr = ""


class EndpointPort(Base, frozen=True):
    name: IStr = ""
    protocol: IStr = "TCP"
    port: int | None = None  # unset: every port (the controller resolves a named targetPort per pod)


class EndpointSlice(Base, frozen=True):
    """`endpoints` and `ports` are `null` on the wire when empty (the controller's placeholder slice of a
    Service without ready pods): the Struct keeps that as None, the properties read it as empty."""

    metadata: ObjectMeta = ObjectMeta()
    endpoints_or_null: tuple[SliceEndpoint, ...] | None = msgspec.field(default=None, name="endpoints")
    ports_or_null: tuple[EndpointPort, ...] | None = msgspec.field(default=None, name="ports")

    @property
    def endpoints(self) -> tuple[SliceEndpoint, ...]:
        return self.endpoints_or_null or ()

    @property
    def ports(self) -> tuple[EndpointPort, ...]:
        return self.ports_or_null or ()


# ---- networking.k8s.io/v1 NetworkPolicy -------------------------------------------------------------------
# Fields in the API server's order (kubediag.netpol writes a policy back as YAML in that order). Absent and
# empty differ for a peer's selectors: no podSelector (None) is not `podSelector: {}` (every pod).


class IPBlock(Base, frozen=True):
    cidr: str = ""
    except_: tuple[str, ...] = msgspec.field(default=(), name="except")


class NetworkPolicyPeer(Base, frozen=True):
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


class NetworkPolicyPort(Base, frozen=True):
    protocol: str = "TCP"
    port: int | str | None = None  # None: every port of the protocol; a name resolves on the destination pod
    end_port: int | None = None


class NetworkPolicyIngressRule(Base, frozen=True):
    ports: tuple[NetworkPolicyPort, ...] = ()
    from_: tuple[NetworkPolicyPeer, ...] = msgspec.field(default=(), name="from")

    @property
    def peers(self) -> tuple[NetworkPolicyPeer, ...]:
        return self.from_


class NetworkPolicyEgressRule(Base, frozen=True):
    ports: tuple[NetworkPolicyPort, ...] = ()
    to: tuple[NetworkPolicyPeer, ...] = ()

    @property
    def peers(self) -> tuple[NetworkPolicyPeer, ...]:
        return self.to


class NetworkPolicySpec(Base, frozen=True):
    pod_selector: LabelSelector = LabelSelector()  # not a pointer: absent is {} (every pod of the namespace)
    ingress: tuple[NetworkPolicyIngressRule, ...] = ()
    egress: tuple[NetworkPolicyEgressRule, ...] = ()
    policy_types: tuple[str, ...] = ()  # [] = unset: kubediag.netpol applies the API server's defaulting

    def peers(self) -> list[NetworkPolicyPeer]:
        """Every `from` and `to` element of every rule."""
        return [e for r in self.ingress for e in r.from_] + [e for r in self.egress for e in r.to]


class NetworkPolicy(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: NetworkPolicySpec = NetworkPolicySpec()


# ---- core/v1 Event, Node, Namespace; networking.k8s.io/v1 Ingress ---------------------------------------------------
# Only core/v1 Events are read (the gatherer lists /api/v1 events), so events.k8s.io/v1's own names
# (regarding, note, reportingController, deprecatedLastTimestamp) are not declared. The timestamps are null in
# the API's JSON when unset (metav1.Time), hence `str | None`.


class InvolvedObject(Base, frozen=True):
    kind: IStr = ""
    namespace: IStr = ""
    name: str = ""


class EventSource(Base, frozen=True):
    component: IStr = ""


class EventSeries(Base, frozen=True):
    count: int = 0
    last_observed_time: str | None = None


class Event(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    involved_object: InvolvedObject = InvolvedObject()
    reason: IStr = ""
    message: str = ""
    type: IStr = ""  # "Normal" | "Warning"; never empty in the API's JSON when set (omitempty)
    count: int = 0
    series: EventSeries | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    event_time: str | None = None
    source: EventSource = EventSource()
    reporting_component: IStr = ""


class Taint(Base, frozen=True):
    key: str = ""
    value: str = ""
    effect: str = ""


class NodeSpec(Base, frozen=True):
    unschedulable: bool = False
    taints: tuple[Taint, ...] = ()


class NodeAddress(Base, frozen=True):
    type: str = ""
    address: str = ""


class NodeStatus(Base, frozen=True):
    conditions: tuple[Condition, ...] = ()
    addresses: tuple[NodeAddress, ...] = ()


class Node(Base, frozen=True):
    metadata: ObjectMeta = ObjectMeta()
    spec: NodeSpec = NodeSpec()
    status: NodeStatus = NodeStatus()


class Namespace(Base, frozen=True):
    """Read for its name and labels (namespaceSelector peers, webhook scopes)."""

    metadata: ObjectMeta = ObjectMeta()


class ServiceBackendPort(Base, frozen=True):
    """An Ingress backend's Service port: by name or by number (the API requires exactly one). Field order is
    the API's, so the port's JSON (quoted as evidence) reads as the API returned it."""

    name: str = ""
    number: int | None = None  # None = absent (the port is named)


class IngressServiceBackend(Base, frozen=True):
    name: str = ""  # "" = a resource backend (no Service)
    port: ServiceBackendPort = ServiceBackendPort()


class IngressBackend(Base, frozen=True):
    service: IngressServiceBackend = IngressServiceBackend()


class HTTPIngressPath(Base, frozen=True):
    path: str = ""
    backend: IngressBackend = IngressBackend()


class HTTPIngressRuleValue(Base, frozen=True):
    paths: tuple[HTTPIngressPath, ...] = ()


class IngressRule(Base, frozen=True):
    host: str = ""
    http: HTTPIngressRuleValue = HTTPIngressRuleValue()


class IngressSpec(Base, frozen=True):
    ingress_class_name: str = ""
    default_backend: IngressBackend = IngressBackend()
    rules: tuple[IngressRule, ...] = ()


class IngressStatus(Base, frozen=True):
    """IngressLoadBalancerStatus: the fields read have the same shape as a Service's load-balancer status."""

    load_balancer: LoadBalancerStatus = LoadBalancerStatus()


class Ingress(Base, frozen=True):
    """networking.k8s.io/v1. The class may also be set by the legacy `kubernetes.io/ingress.class` annotation."""

    metadata: ObjectMeta = ObjectMeta()
    spec: IngressSpec = IngressSpec()
    status: IngressStatus = IngressStatus()
