"""The kind table and the decoders: one entry per kind, LIST pages decoded from bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubediag.gather import list_paged
from kubediag.kinds import KIND_BY_NAME, SPECS, decode_list, decode_object
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
