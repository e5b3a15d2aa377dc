"""The kind table and the decoders: one entry per kind, LIST pages decoded from bytes."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from kubediag.gather import list_paged
from kubediag.kinds import KIND_BY_NAME, SPECS, decode_list, decode_object, from_builtin
from kubediag.model import Kind
from kubediag.objects import Ingress, Pod


def test_every_kind_has_one_spec_and_a_unique_kind_name() -> None:
    assert set(SPECS) == set(Kind)
    assert len(KIND_BY_NAME) == len(SPECS)


def test_list_page_decodes_items_continue_and_drops_managed_fields() -> None:
    body = json.dumps(
        {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"continue": "tok", "resourceVersion": "9"},
            "items": [{"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}, "spec": {}}],
        }
    ).encode()
    items, cont = decode_list(Kind.POD, body)
    assert cont == "tok"
    assert isinstance(items[0], Pod) and items[0].metadata.name == "a"
    assert not hasattr(items[0].metadata, "managed_fields")  # pods' metadata declares no managedFields


def test_pod_condition_without_timestamps_decodes() -> None:
    """A condition patched in without lastTransitionTime comes back with nulls (seen on a real API server):
    the pod list still decodes."""
    cond = {"lastProbeTime": None, "lastTransitionTime": None, "status": "False", "type": "example.com/gate"}
    body = json.dumps({"items": [{"metadata": {"name": "p"}, "status": {"conditions": [cond]}}]}).encode()
    items, _ = decode_list(Kind.POD, body)
    assert [(c.type, c.status) for c in items[0].status.conditions] == [("example.com/gate", "False")]


@pytest.mark.parametrize("kind", [Kind.DEPLOYMENT, Kind.REPLICASET, Kind.STATEFULSET, Kind.NODE])
def test_shared_condition_without_timestamps_decodes(kind: Kind) -> None:
    """The shared Condition (workloads, nodes) also reads a null lastTransitionTime as unset."""
    cond = {"lastTransitionTime": None, "status": "False", "type": "ReplicaFailure", "message": "m"}
    body = json.dumps({"items": [{"metadata": {"name": "x"}, "status": {"conditions": [cond]}}]}).encode()
    items, _ = decode_list(kind, body)
    c = items[0].status.conditions[0]
    assert (c.type, c.message, c.last_transition_time) == ("ReplicaFailure", "m", None)


def test_last_page_and_empty_items() -> None:
    items, cont = decode_list(Kind.INGRESS, b'{"kind":"IngressList","metadata":{},"items":null}')
    assert (items, cont) == ([], "")


def test_object_decodes_into_its_struct() -> None:
    obj = decode_object(Kind.INGRESS, b'{"metadata":{"name":"web"},"spec":{"ingressClassName":"nginx"}}')
    assert isinstance(obj, Ingress) and obj.metadata.name == "web" and obj.spec.ingress_class_name == "nginx"


# ---- list_paged: pages decoded as they arrive, the next one requested meanwhile ----------------------------
class PagedServer:
    """Answers LIST pages as bytes, like Client.get with a decoder; can cut one page once."""

    def __init__(self, pages: int, cut: int | None = None) -> None:
        self.pages = pages
        self.cut = cut
        self.calls: list[dict[str, str]] = []

    def body(self, n: int) -> bytes:
        meta = {"resourceVersion": "7"} | ({"continue": f"p{n + 1}"} if n + 1 < self.pages else {})
        doc = {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": meta,
            "items": [{"metadata": {"name": f"pod-{n}-{i}", "namespace": "shop"}} for i in range(3)],
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    def get(self, path: str, query: Any, decode: Any) -> Any:
        self.calls.append(dict(query))
        n = int(query.get("continue", "p0")[1:])
        body = self.body(n)
        if self.cut == n:
            self.cut = None
            body = body[: len(body) // 2]  # a response cut halfway (the transport fault the retry covers)
        return decode(body)


def test_list_paged_reads_every_page_once_in_order() -> None:
    server = PagedServer(pages=4)
    items = list_paged(server, Kind.POD, "shop", page=3)  # type: ignore[arg-type]
    assert [p.metadata.name for p in items] == [f"pod-{n}-{i}" for n in range(4) for i in range(3)]
    assert [c.get("continue") for c in server.calls] == [None, "p1", "p2", "p3"]
    assert all(c["limit"] == "3" for c in server.calls)


def test_a_page_cut_halfway_is_fetched_again() -> None:
    server = PagedServer(pages=3, cut=1)
    items = list_paged(server, Kind.POD, "shop", page=3)  # type: ignore[arg-type]
    assert len(items) == 9
    assert [c.get("continue") for c in server.calls].count("p1") == 2


# ---- memory: interned strings, shared parts -----------------------------------------------------------------
def _pod(name: str, image: str = "web:1", status: str = "True") -> dict[str, Any]:
    port = {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    probe = {"httpGet": {"path": "/healthz", "port": "http"}}
    return {
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": image,
                    "ports": [port],
                    "env": [{"name": "A", "value": "1"}],
                    "readinessProbe": probe,
                    "livenessProbe": probe,
                    "resources": {"limits": {"memory": "64Mi"}},
                }
            ],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
            ],
            "nodeName": "node-1",
        },
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": status}],
            "podIP": f"10.0.0.{name[-1]}",
        },
    }


def test_pods_of_a_page_share_equal_strings_and_parts_and_decode_as_before() -> None:
    pods = [_pod("web-1"), _pod("web-2"), _pod("web-3", image="web:2", status="False")]
    items, _ = decode_list(Kind.POD, json.dumps({"items": pods}).encode())
    a, b, c = items
    assert items == [from_builtin(Kind.POD, p) for p in pods]  # equal field by field to the unshared Structs
    assert all(type(p.spec.node_name) is str for p in items)  # plain str, never a subclass
    assert a.metadata.labels["app"] is b.metadata.labels["app"] and a.spec.node_name is c.spec.node_name
    assert a.status.conditions is b.status.conditions and a.status.conditions != c.status.conditions
    assert a.spec.tolerations is c.spec.tolerations
    assert a.spec.containers[0].ports is c.spec.containers[0].ports
    assert a.spec.containers[0].readiness_probe is b.spec.containers[0].liveness_probe
    assert a.spec.containers[0].resources is not b.spec.containers[0].resources  # holds a dict: never shared
    assert a.spec.containers[0].image is not c.spec.containers[0].image
    assert a.status.pod_ip != b.status.pod_ip
    # another page shares nothing with this one: each page's cache goes with it
    (again,), _ = decode_list(Kind.POD, json.dumps({"items": [_pod("web-4")]}).encode())
    assert (
        again.status.conditions == a.status.conditions and again.status.conditions is not a.status.conditions
    )


def test_pods_of_a_page_share_equal_dicts_of_strings_and_never_a_default_part() -> None:
    pods = [_pod("web-1"), _pod("web-2"), _pod("web-3")]
    pods[2]["metadata"]["labels"] = {"tier": "front", "app": "web"}  # equal, another order: kept apart
    pods[1]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 1}}  # a number: left alone
    bare = [{"metadata": {"name": "bare-1"}}, {"metadata": {"name": "bare-2"}}]  # no spec at all
    items, _ = decode_list(Kind.POD, json.dumps({"items": pods + bare}).encode())
    a, b, c, d, e = items
    assert items == [from_builtin(Kind.POD, p) for p in pods + bare]
    assert a.metadata.labels is b.metadata.labels and a.metadata.labels is not c.metadata.labels
    assert list(c.metadata.labels) == ["tier", "app"]
    assert a.metadata.annotations is b.metadata.annotations is d.metadata.annotations == {}
    assert a.spec.node_selector is c.spec.node_selector
    assert a.spec.containers[0].resources.limits is c.spec.containers[0].resources.limits
    assert b.spec.containers[0].resources.limits == {"cpu": 1}
    # pods without a spec hold msgspec's one default PodSpec: it is never changed
    assert d.spec is e.spec is Pod().spec and Pod().spec.node_selector == {}
    # another page shares nothing with this one
    (again,), _ = decode_list(Kind.POD, json.dumps({"items": [_pod("web-4")]}).encode())
    assert again.metadata.labels == a.metadata.labels and again.metadata.labels is not a.metadata.labels


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "`str`, got `int`"),
        (None, "`str`, got `null`"),
        ([1], "`str`, got `array`"),
        ({}, "`str`, got `object`"),
    ],
)
def test_interned_fields_reject_what_str_fields_reject(value: Any, expected: str) -> None:
    body = json.dumps({"items": [{"spec": {"nodeName": value}}]}).encode()
    with pytest.raises(
        msgspec.ValidationError, match=f"Expected {expected} - at `\\$.items\\[0\\].spec.nodeName`"
    ):
        decode_list(Kind.POD, body)
    started = {"status": {"containerStatuses": [{"state": {"running": {"startedAt": 5}}}]}}
    with pytest.raises(msgspec.ValidationError, match="Expected `str \\| null`, got `int`"):
        decode_list(Kind.POD, json.dumps({"items": [started]}).encode())
