"""`svc` reads the workloads only when the situation calls for it: a healthy Service stays at <= 8 requests.

A fake client serves YAML-like objects and records every request; gather_service and the chain run as in a real
`kubediag svc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from test_engine import slice_for

from kubediag.engine import diagnose
from kubediag.gather import Discovery, gather_service
from kubediag.kinds import KIND_BY_NAME, SPECS, decode_object
from kubediag.model import Kind
from kubediag.snapshot import Snapshot

WORKLOADS = {Kind.DEPLOYMENT, Kind.REPLICASET, Kind.STATEFULSET, Kind.DAEMONSET}


class NotFound(Exception):
    status = 404


class ObjectsClient:
    """Serves `objects` (API JSON) per kind and namespace; `labelSelector=k=v` is honoured."""

    server = "https://127.0.0.1:6443"

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.calls: list[tuple[str, Kind, str | None]] = []

    def _of(self, kind: Kind, namespace: str | None) -> list[dict[str, Any]]:
        return [
            o
            for o in self.objects
            if KIND_BY_NAME[o["kind"]] is kind
            and (namespace is None or kind.cluster_scoped or o["metadata"].get("namespace") == namespace)
        ]

    def _typed(self, kind: Kind, obj: dict[str, Any]) -> Any:
        import json

        return decode_object(kind, json.dumps(obj).encode())

    server_time = ""

    def discover(self) -> Discovery:
        """API discovery (GET /apis), counted as a request: this fake cluster serves no Gateway API kind."""
        self.calls.append(("get", None, "/apis"))  # type: ignore[arg-type]
        return Discovery()

    def get_object(self, kind: Kind, namespace: str | None, name: str) -> Any:
        self.calls.append(("get", kind, namespace))
        for o in self._of(kind, namespace):
            if o["metadata"]["name"] == name:
                return self._typed(kind, o)
        raise NotFound(name)

    def get(self, path: str, query: Mapping[str, str] | None = None, decode: Any = None) -> Any:
        self.calls.append(("get", Kind.NAMESPACE, path))
        return {}

    def list(
        self, kind: Kind, namespace: str | None = None, query: Mapping[str, str] | None = None, page: int = 500
    ) -> list[Any]:
        self.calls.append(("list", kind, namespace))
        items = self._of(kind, namespace)
        sel = (query or {}).get("labelSelector")
        if sel:
            pairs = dict(p.split("=", 1) for p in sel.split(","))
            items = [o for o in items if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in pairs.items())]
        return [self._typed(kind, o) for o in items]


def deployment(replicas: int, managed: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "web", "namespace": "shop"}
    if managed:
        meta["managedFields"] = [{"manager": "kubectl-client-side-apply", "operation": "Update", "fieldsV1": {}}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web"}]}},
        },
    }


def pod(name: str, created: str = "2026-11-25T17:00:00Z") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": created,
            "labels": {"app": "web", "pod-template-hash": "5d8f"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "controller": True}],
        },
        "spec": {"nodeName": "node-a", "containers": [{"name": "web"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.5", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def failed_create(at: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-5d8f.1", "namespace": "shop"},
        "involvedObject": {"kind": "ReplicaSet", "name": "web-5d8f", "namespace": "shop"},
        "reason": "FailedCreate",
        "type": "Warning",
        "lastTimestamp": at,
        "message": 'Error creating: pods "web-5d8f-x" is forbidden: exceeded quota: q, requested: pods=1, '
        "used: pods=1, limited: pods=1",
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}


def run(objects: list[dict[str, Any]]) -> tuple[ObjectsClient, Any]:
    pods = [o for o in objects if o["kind"] == "Pod"]
    if pods:
        objects = [*objects, slice_for("web", pods)]
    client = ObjectsClient(objects)
    data = gather_service(client, "shop", "web")  # type: ignore[arg-type]
    return client, diagnose(Snapshot("shop", "web", data))


def test_healthy_service_reads_no_workload_and_stays_within_8_requests() -> None:
    client, report = run([SERVICE, deployment(2), pod("web-5d8f-a"), pod("web-5d8f-b")])
    assert report.status.value == "healthy"
    assert len(client.calls) <= 8, client.calls
    assert not {k for _, k, _ in client.calls} & (WORKLOADS | {Kind.HPA})


def test_an_old_failed_create_followed_by_a_create_reads_nothing_more() -> None:
    client, report = run([SERVICE, deployment(2), pod("web-5d8f-a", "2026-11-25T17:10:00Z"), failed_create("2026-11-25T17:05:00Z")])
    assert report.status.value == "healthy"
    assert len(client.calls) <= 8 and not {k for _, k, _ in client.calls} & WORKLOADS


def test_a_current_failed_create_reads_the_workloads_partial_is_a_warning() -> None:
    client, report = run([SERVICE, deployment(3), pod("web-5d8f-a"), failed_create("2026-11-25T17:30:00Z")])
    assert {k for _, k, _ in client.calls} >= WORKLOADS
    assert Kind.HPA not in {k for _, k, _ in client.calls}
    assert report.root_cause is not None and report.root_cause.category.value == "pods-not-created"
    assert report.root_cause.severity.value == "warning"


def test_no_pod_reads_workloads_siblings_and_the_autoscalers_of_a_workload_at_zero() -> None:
    client, report = run([SERVICE, deployment(0, managed=True)])
    kinds = [k for _, k, _ in client.calls]
    assert WORKLOADS | {Kind.HPA} <= set(kinds)
    assert kinds.count(Kind.SERVICE) == 2  # the target (get) and its siblings (list)
    assert report.root_cause is not None and report.root_cause.category.value == "workload-scaled-to-zero"
    assert "kubectl -n shop scale deployment/web --replicas=1" in report.root_cause.remediation


def test_every_workload_kind_is_typed() -> None:
    for kind in WORKLOADS | {Kind.HPA}:
        assert SPECS[kind].struct is not None and SPECS[kind].optional
