"""`audit`'s cluster-wide Gateway API findings: route backendRefs naming a Service that does not exist
(KDA07) or a port it lacks (KDA08), judged only where every Service was read."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from fixtureload import build_data
from referencing import Registry, Resource

from kubediag import audit
from kubediag.kinds import DISCOVERED_KINDS
from kubediag.model import ClusterResult, Severity
from kubediag.render import json as render_json
from kubediag.schemas import load

SVC_SCHEMA = load("svc-report")
VALIDATOR = jsonschema.Draft202012Validator(
    load("audit-report"), registry=Registry().with_resource(SVC_SCHEMA["$id"], Resource.from_contents(SVC_SCHEMA))
)


def svc(ns: str, name: str, port: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"ports": [{"port": port}]},
    }


def route(ns: str, name: str, *refs: dict[str, Any], kind: str = "HTTPRoute") -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": ns},
        "spec": {"rules": [{"backendRefs": list(refs)}]},
    }


OBJECTS = [
    svc("shop", "web"),
    svc("shop", "api", 8080),
    route("shop", "good", {"name": "web", "port": 80}),
    route("shop", "gone", {"name": "cart", "port": 80}),
    route("shop", "port", {"name": "api", "port": 80}),
    route("front", "cross", {"name": "web", "namespace": "shop", "port": 80}, {"name": "x", "namespace": "elsewhere", "port": 1}),
    route("shop", "tcp", {"name": "db", "port": 5432}, kind="TCPRoute"),
]


def cluster(scope: audit.Scope, **extra: Any) -> dict[str, ClusterResult]:
    res = audit.run(build_data(OBJECTS, **extra), scope, generated_at="2026-01-01T00:00:00Z")
    VALIDATOR.validate(json.loads(render_json.audit(res)))
    return {c.id: c for c in res.cluster}


def test_missing_services_and_ports_all_namespaces() -> None:
    c = cluster(audit.Scope())
    assert c["KDA07"].outcome == "failed" and c["KDA07"].severity is Severity.WARNING
    assert set(c["KDA07"].objects) == {"HTTPRoute/shop/gone", "TCPRoute/shop/tcp", "HTTPRoute/front/cross"}
    assert "Service shop/cart (does not exist)" in c["KDA07"].message
    assert "Service elsewhere/x (does not exist)" in c["KDA07"].message
    assert c["KDA08"].outcome == "failed" and c["KDA08"].objects == ("HTTPRoute/shop/port",)
    assert "Service shop/api port 80 (ports: 8080)" in c["KDA08"].message


def test_only_namespaces_read_are_judged() -> None:
    c = cluster(audit.Scope(namespaces=("shop",)))
    # front/cross names elsewhere/x, a namespace outside the scope: absence there is unknown, and front is
    # not in scope anyway
    assert set(c["KDA07"].objects) == {"HTTPRoute/shop/gone", "TCPRoute/shop/tcp"}


def test_label_selector_makes_absence_unknown() -> None:
    c = cluster(audit.Scope(label_selector="team=a"))
    assert c["KDA07"].outcome == "skipped" and "label selector" in c["KDA07"].reason


def test_not_served_passes_and_forbidden_skips() -> None:
    c = cluster(audit.Scope(), unserved=frozenset(DISCOVERED_KINDS))
    assert c["KDA07"].outcome == "passed" and "does not serve" in c["KDA07"].message
    res = audit.run(
        build_data(
            OBJECTS,
            {k: "forbidden: list x (cluster-wide)" for k in ("httproutes", "grpcroutes", "tlsroutes", "tcproutes", "udproutes")},
        ),
        audit.Scope(),
    )
    c = {x.id: x for x in res.cluster}
    assert c["KDA08"].outcome == "skipped" and "forbidden" in c["KDA08"].reason
