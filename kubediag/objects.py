"""Typed, pruned models of the API objects the checks read: one msgspec Struct family per kind.

Each Struct declares only the fields some check reads; everything else in a response is skipped while
decoding (no intermediate dicts). Field names are the API's camelCase (`rename="camel"`); missing fields
get the default the API server would apply or an empty value. Unit fixtures (YAML) are converted with the
same Structs (`msgspec.convert`), so a check sees the same types from a fixture as from a live cluster.

Adding a kind: one Struct here and one entry in `kubediag.kinds.SPECS`.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Base(msgspec.Struct, frozen=True, rename="camel", omit_defaults=True):
    """Common options: immutable, camelCase on the wire, unknown fields ignored."""


class OwnerReference(Base, frozen=True):
    kind: str = ""
    name: str = ""
    uid: str = ""
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
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: list[OwnerReference] = []
    creation_timestamp: str = ""
    deletion_timestamp: str = ""
    generation: int = 0

    @property
    def controller(self) -> OwnerReference | None:
        return next((o for o in self.owner_references if o.controller), None)


class ManagedMeta(ObjectMeta, frozen=True):
    """ObjectMeta with managedFields, for the few kinds whose checks say who set a field (spec.replicas).
    Every other kind's Struct uses ObjectMeta, so managedFields are skipped while decoding."""

    managed_fields: list[ManagedFieldsEntry] = []


class Condition(Base, frozen=True):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""
    last_transition_time: str = ""


class LabelSelectorRequirement(Base, frozen=True):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class LabelSelector(Base, frozen=True):
    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []

    def as_dict(self) -> dict[str, Any]:
        """The selector in API form, for the label-expression matcher shared with NetworkPolicy peers."""
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


class PodTemplateMeta(Base, frozen=True):
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class PodTemplate(Base, frozen=True):
    """A workload's pod template. `spec` stays raw JSON: pod specs are judged by the pod checks' helpers."""

    metadata: PodTemplateMeta = PodTemplateMeta()
    spec: dict[str, Any] = {}


def conditions_get(conditions: list[Condition], ctype: str) -> Condition | None:
    return next((c for c in conditions if c.type == ctype), None)


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
    conditions: list[Condition] = []


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
    conditions: list[Condition] = []


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
    conditions: list[Condition] = []


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
    conditions: list[Condition] = []


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
    conditions: list[Condition] = []


class HorizontalPodAutoscaler(Base, frozen=True):
    """autoscaling/v2. KEDA's ScaledObjects manage one each (label `scaledobject.keda.sh/name`)."""

    metadata: ObjectMeta = ObjectMeta()
    spec: HPASpec = HPASpec()
    status: HPAStatus = HPAStatus()
