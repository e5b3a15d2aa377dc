"""What depends on the Service: which optional reads `svc` makes (and does not make) per situation, the
audit's cluster-wide findings on consumers of missing Services (KDA04-KDA06), and pure helpers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from fixtureload import build_data
from kubernetes.client.exceptions import ApiException

from kubediag import audit
from kubediag.dependents import client_dns, ingress_class, ready_endpoints, uses_cluster_dns
from kubediag.engine import diagnose
from kubediag.gather import Discovery, gather_service
from kubediag.kinds import SPECS, from_builtin
from kubediag.model import ClusterResult, Kind, Outcome, Severity
from kubediag.snapshot import ClientRef, Snapshot


# ---- svc: the reads a situation calls for ----------------------------------------------------------------
def _svc(name: str = "web", ns: str = "shop") -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"clusterIP": "10.96.1.1", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }


def _pod(name: str, ns: str = "shop", **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "web"}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"containerPort": 80}]}], **spec},
        "status": {
            "phase": "Running",
            "podIP": "10.244.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def _slice(svc: str, ns: str, ready: bool | None, **labels: str) -> dict[str, Any]:
    ep: dict[str, Any] = {"addresses": ["10.244.0.5"]}
    if ready is not None:
        ep["conditions"] = {"ready": ready}
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{svc}-1",
            "namespace": ns,
            "labels": {"kubernetes.io/service-name": svc, **labels},
        },
        "endpoints": [ep],
        "ports": [{"port": 80}],
    }


def _ingress(name: str, cls: str = "", address: str = "", legacy: str = "") -> dict[str, Any]:
    ing: dict[str, Any] = {
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    }
    if cls:
        ing["spec"]["ingressClassName"] = cls
    if legacy:
        ing["metadata"]["annotations"] = {"kubernetes.io/ingress.class": legacy}
    if address:
        ing["status"] = {"loadBalancer": {"ingress": [{"ip": address}]}}
    return ing


class FakeApi:
    """The reads `gather_service` makes, answered from a dict of objects; every request is logged."""

    server = "https://127.0.0.1:6443"

    def __init__(self, objects: list[dict[str, Any]], forbidden: set[str] | None = None) -> None:
        self.objects = objects
        self.forbidden = forbidden or set()
        self.requests: list[str] = []

    server_time = ""

    def discover(self) -> Discovery:
        """API discovery (GET /apis): this fake cluster serves no Gateway API kind."""
        self.requests.append("get /apis")
        return Discovery()

    def _check(self, what: str) -> None:
        self.requests.append(what)
        for f in self.forbidden:
            if what.startswith(f):
                raise ApiException(status=403, reason="Forbidden")

    def get_object(self, kind: Kind, namespace: str | None, name: str) -> Any:
        self._check(f"get {kind.value} {namespace}/{name}")
        for o in self.objects:
            same = SPECS[kind].kind == o["kind"] and o["metadata"]["name"] == name
            if same and (kind.cluster_scoped or o["metadata"].get("namespace") == namespace):
                return from_builtin(kind, o)
        raise ApiException(status=404, reason="Not Found")

    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        query: Mapping[str, str] | None = None,
        page: int = 500,
    ) -> list[Any]:
        self._check(f"list {kind.value} {namespace or '*'} {dict(query or {})}")
        out = []
        sel = dict(kv.split("=", 1) for kv in (query or {}).get("labelSelector", "").split(",") if kv)
        for o in self.objects:
            if o["kind"] != SPECS[kind].kind:
                continue
            if namespace and not kind.cluster_scoped and o["metadata"].get("namespace") != namespace:
                continue
            labels = o["metadata"].get("labels") or {}
            if any(labels.get(k) != v for k, v in sel.items()):
                continue
            out.append(from_builtin(kind, o))
        return out

    def get(self, path: str, query: Any = None, decode: Any = None) -> Any:
        self._check(f"get {path}")
        return {}


DNS = [
    {
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
        "spec": {"clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"}, "ports": [{"port": 53}]},
    },
    _slice("kube-dns", "kube-system", True, **{"k8s-app": "kube-dns"}),
]


def _healthy() -> list[dict[str, Any]]:
    return [_svc(), _pod("web-1"), _slice("web", "shop", True)]


def test_healthy_service_reads_nothing_more() -> None:
    api = FakeApi([*_healthy(), *DNS, _ingress("front", "nginx", address="203.0.113.9")])
    data = gather_service(api, "shop", "web")  # type: ignore[arg-type]
    # the 6 reads of before, plus API discovery (GET /apis: is the Gateway API served? here, no)
    assert len(api.requests) == 7 and api.requests[0] == "get /apis", api.requests
    assert not data.cluster_dns_read and not data.cluster_dns_gap
    assert data.missing(Kind.INGRESSCLASS) is not None and data.missing(Kind.VALIDATINGWEBHOOK) is not None


def test_from_reads_the_cluster_dns_within_nine_requests() -> None:
    api = FakeApi([*_healthy(), _pod("client"), *DNS])
    data = gather_service(api, "shop", "web", ("shop", "client"))  # type: ignore[arg-type]
    # 6 + API discovery + the kube-dns Service and its EndpointSlices
    assert len(api.requests) <= 9, api.requests
    assert data.cluster_dns_read
    report = diagnose(Snapshot("shop", "web", data, ClientRef("shop", "client")))
    assert report.status.value == "healthy", report.findings
    kd605 = next(r for r in report.results if r.check_id == "KD605")
    assert kd605.outcome is Outcome.PASSED


def test_from_with_kube_system_forbidden_names_the_permission() -> None:
    api = FakeApi([*_healthy(), _pod("client"), *DNS], forbidden={"list services kube-system"})
    data = gather_service(api, "shop", "web", ("shop", "client"))  # type: ignore[arg-type]
    assert not data.cluster_dns_read and "list services in namespace kube-system" in data.cluster_dns_gap
    report = diagnose(Snapshot("shop", "web", data, ClientRef("shop", "client")))
    kd605 = next(r for r in report.results if r.check_id == "KD605")
    assert (
        kd605.outcome is Outcome.SKIPPED
        and "forbidden: list services in namespace kube-system" in kd605.reason
    )
    assert report.status.value == "healthy"


def test_unaddressed_ingress_reads_the_classes() -> None:
    api = FakeApi([*_healthy(), _ingress("front", "nginx-public")])
    data = gather_service(api, "shop", "web")  # type: ignore[arg-type]
    assert any(r.startswith("list ingressclasses") for r in api.requests)
    report = diagnose(Snapshot("shop", "web", data))
    assert [f.category.value for f in report.findings] == ["ingress-class-unclaimed"]
    assert report.status.value == "degraded"


def test_existing_class_without_addresses_looks_cluster_wide_once() -> None:
    nginx = {
        "kind": "IngressClass",
        "metadata": {"name": "nginx"},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }
    elsewhere = _ingress("blog", "nginx", address="203.0.113.9")
    elsewhere["metadata"]["namespace"] = "blog"
    api = FakeApi([*_healthy(), nginx, _ingress("front", "nginx"), elsewhere])
    data = gather_service(api, "shop", "web")  # type: ignore[arg-type]
    assert Kind.INGRESS in data.cluster_wide
    assert len(api.requests) == 9, api.requests  # 6 + discovery + IngressClasses + Ingresses everywhere
    report = diagnose(Snapshot("shop", "web", data))
    assert report.status.value == "healthy", report.findings  # the class is claimed in namespace blog


def test_no_ready_endpoint_reads_webhooks_and_apiservices() -> None:
    hook = {
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "guard"},
        "webhooks": [
            {
                "name": "v.guard.example.com",
                "clientConfig": {"service": {"namespace": "shop", "name": "web"}},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
            }
        ],
    }
    api = FakeApi([_svc(), _pod("web-1"), _slice("web", "shop", False), hook])
    data = gather_service(api, "shop", "web")  # type: ignore[arg-type]
    for kind in (Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK, Kind.APISERVICE):
        assert data.missing(kind) is None
    report = diagnose(Snapshot("shop", "web", data))
    hooks = [f for f in report.findings if f.check_id == "KD905"]
    assert hooks and hooks[0].severity is Severity.CRITICAL
    assert "CREATE of pods (core) in every namespace" in hooks[0].message


def test_missing_service_names_the_ingress_and_webhooks() -> None:
    ing = _ingress("storefront")
    ing["spec"]["defaultBackend"]["service"]["name"] = "cart-api"
    api = FakeApi([ing])
    data = gather_service(api, "shop", "cart-api")  # type: ignore[arg-type]
    report = diagnose(Snapshot("shop", "cart-api", data))
    assert report.root_cause is not None and "Ingress storefront routes to it" in report.root_cause.message


# ---- audit: consumers of missing Services ----------------------------------------------------------------
def _consumers() -> list[dict[str, Any]]:
    ing = _ingress("storefront")
    ing["spec"]["defaultBackend"]["service"]["name"] = "cart-api"
    return [
        _svc(),
        _pod("web-1"),
        _slice("web", "shop", True),
        ing,
        {
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "injector"},
            "webhooks": [
                {
                    "name": "inject.example.com",
                    "failurePolicy": "Fail",
                    "clientConfig": {"service": {"namespace": "mesh", "name": "injector"}},
                    "rules": [
                        {
                            "operations": ["CREATE"],
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "resources": ["pods"],
                        }
                    ],
                }
            ],
        },
        {
            "kind": "APIService",
            "metadata": {"name": "v1beta1.metrics.k8s.io"},
            "spec": {
                "group": "metrics.k8s.io",
                "version": "v1beta1",
                "service": {"namespace": "kube-system", "name": "metrics-server"},
            },
        },
        {"kind": "APIService", "metadata": {"name": "v1.apps"}, "spec": {"group": "apps", "version": "v1"}},
    ]


def _cluster(scope: audit.Scope, data: Any = None) -> dict[str, ClusterResult]:
    res = audit.run(data or build_data(_consumers()), scope)
    return {c.id: c for c in res.cluster}


def test_audit_names_consumers_of_missing_services() -> None:
    got = _cluster(audit.Scope())
    assert got["KDA04"].outcome == "failed" and "ingress/shop/storefront" in got["KDA04"].objects
    assert "cart-api" in got["KDA04"].message and got["KDA04"].severity is Severity.WARNING
    assert got["KDA05"].outcome == "failed" and got["KDA05"].severity is Severity.CRITICAL
    assert "mesh/injector, which does not exist" in got["KDA05"].message
    assert got["KDA06"].outcome == "failed" and "v1beta1.metrics.k8s.io" in got["KDA06"].message
    res = audit.run(build_data(_consumers()), audit.Scope())
    from test_audit import AUDIT_VALIDATOR

    from kubediag.render.json import audit_dict

    AUDIT_VALIDATOR.validate(audit_dict(res) | {"generated_at": "2026-01-01T00:00:00Z"})


def test_audit_consumers_only_where_services_were_listed() -> None:
    got = _cluster(audit.Scope(namespaces=("shop",)))
    assert got["KDA04"].outcome == "failed"
    assert (
        got["KDA05"].outcome == "passed" and got["KDA06"].outcome == "passed"
    )  # mesh, kube-system not listed
    got = _cluster(audit.Scope(label_selector="app=web"))
    assert {c.outcome for c in got.values() if c.id in ("KDA04", "KDA05", "KDA06")} == {"skipped"}


def test_audit_consumers_skipped_when_forbidden() -> None:
    from dataclasses import replace

    from kubediag.model import Unavailable

    d = build_data(_consumers())
    gap = Unavailable(Kind.APISERVICE, "forbidden", "list apiservices (cluster-wide)")
    d = replace(d, read=d.read - {Kind.APISERVICE}, unavailable={Kind.APISERVICE: gap})
    got = _cluster(audit.Scope(), d)
    assert got["KDA06"].outcome == "skipped" and "list apiservices" in got["KDA06"].reason
    assert got["KDA05"].outcome == "failed"


# ---- helpers ---------------------------------------------------------------------------------------------
def test_ready_endpoints_nil_means_ready() -> None:
    assert ready_endpoints([from_builtin(Kind.ENDPOINTSLICE, _slice("a", "n", None))]) == 1
    assert ready_endpoints([from_builtin(Kind.ENDPOINTSLICE, _slice("a", "n", False))]) == 0


@pytest.mark.parametrize(
    ("spec", "effective"),
    [
        ({}, "ClusterFirst"),
        ({"hostNetwork": True}, "Default"),
        ({"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}, "ClusterFirst"),
        ({"dnsPolicy": "ClusterFirstWithHostNet"}, "ClusterFirst"),
        ({"dnsPolicy": "Default"}, "Default"),
        ({"dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"]}}, "None"),
    ],
)
def test_effective_dns_policy(spec: dict[str, Any], effective: str) -> None:
    assert client_dns(from_builtin(Kind.POD, {"spec": spec})).effective == effective


def test_uses_cluster_dns() -> None:
    d = build_data(DNS, cluster_dns_read=True)

    def client(*nameservers: str) -> Any:
        return from_builtin(Kind.POD, {"spec": {"dnsPolicy": "None", "dnsConfig": {"nameservers": list(nameservers)}}})

    none = client("10.96.0.10")
    assert uses_cluster_dns(d, none) is True
    assert uses_cluster_dns(d, client("8.8.8.8")) is False
    assert uses_cluster_dns(d, client("169.254.20.10")) is None
    assert uses_cluster_dns(build_data(DNS), none) is None  # not read: unknown, never "no"


def test_ingress_class_sources() -> None:
    def typed(ing: dict[str, Any]) -> Any:
        return from_builtin(Kind.INGRESS, ing)

    assert ingress_class(typed(_ingress("a", "nginx"))) == ("nginx", "spec.ingressClassName")
    assert ingress_class(typed(_ingress("a", legacy="traefik")))[0] == "traefik"
    assert ingress_class(typed(_ingress("a"))) == ("", "")


def test_dns_slices_without_the_service_labels_are_found_by_name() -> None:
    unlabelled = _slice("kube-dns", "kube-system", False)  # no k8s-app label copied onto the slice
    api = FakeApi([*_healthy(), _pod("client"), DNS[0], unlabelled])
    data = gather_service(api, "shop", "web", ("shop", "client"))  # type: ignore[arg-type]
    assert any("kubernetes.io/service-name=kube-dns" in r for r in api.requests), api.requests
    report = diagnose(Snapshot("shop", "web", data, ClientRef("shop", "client")))
    assert report.root_cause is not None and report.root_cause.category.value == "cluster-dns-unavailable"
    assert report.root_cause.severity is Severity.CRITICAL
