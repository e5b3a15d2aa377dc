"""The kind table and the decoders: one entry per kind, LIST pages decoded from bytes."""

from __future__ import annotations

import json

from kubediag.kinds import KIND_BY_NAME, SPECS, decode_list, decode_object
from kubediag.model import Kind


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
    assert items[0]["kind"] == "Pod" and items[0]["apiVersion"] == "v1"
    assert "managedFields" not in items[0]["metadata"]


def test_last_page_and_empty_items() -> None:
    items, cont = decode_list(Kind.INGRESS, b'{"kind":"IngressList","metadata":{},"items":null}')
    assert (items, cont) == ([], "")


def test_object_gets_its_group_version() -> None:
    obj = decode_object(Kind.INGRESS, b'{"metadata":{"name":"web"}}')
    assert obj["apiVersion"] == "networking.k8s.io/v1" and obj["kind"] == "Ingress"
