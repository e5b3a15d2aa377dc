"""Gateway API gathering without a cluster: API discovery (one request per run), what `svc` reads on a
cluster with and without the Gateway API CRDs, and the request count of a healthy Service.

The client is the real `gather.Client` with only its transport (`_get_once`) replaced by canned answers per
path, so discovery, version choice, pagination and the conditional reads are the production code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
import pytest
from kubernetes.client.exceptions import ApiException

from kubediag.engine import diagnose
from kubediag.gather import Client, RequestLog, gather_scope, gather_service
from kubediag.kinds import DISCOVERED_KINDS, ROUTE_KINDS
from kubediag.model import Kind, Outcome, Status
from kubediag.snapshot import Snapshot

GW = "gateway.networking.k8s.io"
Answer = tuple[int, Any]


class FakeAPI(Client):
    def __init__(self, answers: Mapping[str, Answer]) -> None:  # no kubeconfig: canned answers only
        self.deadline = time.monotonic() + 30
        self.timeout = 30.0
        self.log = RequestLog()
        self.default_namespace = "shop"
        self.server = "https://fake.invalid"
        self.served_versions = {}
        self._discovery = None
        self._discovery_lock = threading.Lock()
        self._server_date = 0.0
        self.answers = dict(answers)
        self.accepts: dict[str, str] = {}

    def _get_once(
        self,
        path: str,
        query: Mapping[str, str],
        decode: Callable[[bytes], Any] = msgspec.json.decode,
        accept: str = "application/json",
    ) -> Any:
        status, body = self.answers.get(path, (404, {"kind": "Status", "code": 404}))
        self.log.add("GET", path, status, 0.0, "&".join(f"{k}={v}" for k, v in query.items()))
        self.accepts[path] = accept
        if status != 200:
            exc = ApiException(status=status, reason="Err")
            exc.body = json.dumps(body)
            raise exc
        return decode(json.dumps(body).encode())

    @property
    def paths(self) -> list[str]:
        return [e[1] for e in self.log.entries]


def lst(*items: Any) -> Answer:
    return 200, {"kind": "List", "metadata": {}, "items": list(items)}


SERVICE = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}
POD = {
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "web", "ports": [{"containerPort": 8080}]}]},
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "web", "ready": True, "state": {"running": {}}}],
    },
}
SLICE = {
    "metadata": {"name": "web-x", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
    "addressType": "IPv4",
    "endpoints": [
        {"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": "web-1"}}
    ],
    "ports": [{"port": 8080, "protocol": "TCP"}],
}


def core(**extra: Answer) -> dict[str, Answer]:
    return {
        "/api/v1/namespaces/shop/services/web": (200, SERVICE),
        "/api/v1/namespaces/shop/pods": lst(POD),
        "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices": lst(SLICE),
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies": lst(),
        "/api/v1/namespaces/shop/events": lst(),
        "/apis/networking.k8s.io/v1/namespaces/shop/ingresses": lst(),
        **extra,
    }


def aggregated(*groups: tuple[str, list[tuple[str, list[str]]]]) -> Answer:
    return 200, {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "items": [
            {
                "metadata": {"name": name},
                "versions": [
                    {"version": v, "resources": [{"resource": r, "scope": "Namespaced"} for r in res]}
                    for v, res in versions
                ],
            }
            for name, versions in groups
        ],
    }


APPS = ("apps", [("v1", ["deployments"])])
STANDARD = (GW, [("v1", ["httproutes", "grpcroutes", "gateways", "gatewayclasses", "referencegrants"]),
                 ("v1beta1", ["httproutes", "referencegrants", "gateways", "gatewayclasses"])])
OLD = (GW, [("v1beta1", ["httproutes", "referencegrants", "gateways", "gatewayclasses"])])


def route_checks(data: Any) -> dict[str, Any]:
    report = diagnose(Snapshot("shop", "web", data))
    return {"report": report, **{r.check_id: r for r in report.results if r.check_id in ("KD804", "KD805")}}


@pytest.mark.parametrize(
    "discovery",
    [aggregated(APPS), (404, {"kind": "Status", "code": 404}), (200, {"kind": "APIGroupList", "groups": []})],
    ids=["group-not-listed", "discovery-404", "legacy-group-list-without-group"],
)
def test_no_gateway_api_one_discovery_request_and_not_applicable(discovery: Answer) -> None:
    api = FakeAPI(core(**{"/apis": discovery}))
    data = gather_service(api, "shop", "web")
    assert len(api.paths) == 7, api.paths  # the 6 reads of a healthy Service + discovery
    assert api.paths.count("/apis") == 1
    assert not any(GW in p for p in api.paths), "nothing of the Gateway API is requested"
    assert data.unserved == frozenset(DISCOVERED_KINDS) and not data.unavailable
    got = route_checks(data)
    assert got["report"].status is Status.HEALTHY and not got["report"].errors
    for cid in ("KD804", "KD805"):
        assert got[cid].outcome is Outcome.SKIPPED
        assert "not applicable: the cluster does not serve Gateway API routes" in got[cid].reason


def test_healthy_service_with_the_crds_costs_eight_requests() -> None:
    api = FakeAPI(core(**{"/apis": aggregated(APPS, STANDARD), f"/apis/{GW}/v1/httproutes": lst()}))
    data = gather_service(api, "shop", "web")
    assert len(api.paths) == 8, api.paths
    assert api.accepts["/apis"].startswith("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    assert data.served_versions[Kind.HTTPROUTE] == "v1" and Kind.TCPROUTE in data.unserved
    got = route_checks(data)
    assert got["report"].status is Status.HEALTHY
    assert "no HTTPRoute names Service shop/web" in got["KD804"].reason
    assert "svc reads GRPCRoutes only for ports that suggest their protocol" in got["KD804"].reason


def test_served_version_comes_from_discovery() -> None:
    """An older install serves HTTPRoute at v1beta1 only: that is the path read."""
    route = {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": [{"name": "web", "port": 8080}]}]},
    }
    api = FakeAPI(
        core(
            **{
                "/apis": aggregated(APPS, OLD),
                f"/apis/{GW}/v1beta1/httproutes": lst(route),
                f"/apis/{GW}/v1beta1/namespaces/shop/gateways": lst(),
            }
        )
    )
    data = gather_service(api, "shop", "web")
    assert f"/apis/{GW}/v1beta1/httproutes" in api.paths
    assert f"/apis/{GW}/v1beta1/namespaces/shop/gateways" in api.paths
    got = route_checks(data)
    assert got["KD804"].outcome is Outcome.FAILED and "8080 is the targetPort" in got["KD804"].findings[0].message
    assert got["KD805"].outcome is Outcome.FAILED and "Gateway shop/gw does not exist" in got["KD805"].findings[0].message


def test_legacy_discovery_reads_each_version_of_the_group() -> None:
    groups = {"kind": "APIGroupList", "groups": [{"name": GW, "versions": [{"groupVersion": f"{GW}/v1", "version": "v1"}],
                                                  "preferredVersion": {"groupVersion": f"{GW}/v1", "version": "v1"}}]}
    api = FakeAPI(
        core(
            **{
                "/apis": (200, groups),
                f"/apis/{GW}/v1": (200, {"kind": "APIResourceList", "resources": [{"name": "httproutes"}]}),
                f"/apis/{GW}/v1/httproutes": lst(),
            }
        )
    )
    data = gather_service(api, "shop", "web")
    assert data.served_versions == {Kind.HTTPROUTE: "v1"}
    assert len(api.paths) == 9  # an older server without aggregated discovery: one GET per group version


def test_forbidden_cluster_wide_routes_fall_back_to_the_namespace() -> None:
    api = FakeAPI(
        core(
            **{
                "/apis": aggregated(APPS, STANDARD),
                f"/apis/{GW}/v1/httproutes": (403, {"message": 'cannot list resource "httproutes"'}),
                f"/apis/{GW}/v1/namespaces/shop/httproutes": lst(),
            }
        )
    )
    data = gather_service(api, "shop", "web")
    assert Kind.HTTPROUTE in data.read and not data.unavailable
    got = route_checks(data)
    assert "only namespace shop was read (list httproutes (cluster-wide) is forbidden)" in got["KD804"].reason


def test_discovery_failure_is_an_error_never_absence() -> None:
    api = FakeAPI(core(**{"/apis": (403, {"message": "forbidden"})}))
    data = gather_service(api, "shop", "web")
    assert not data.unserved and data.unavailable[Kind.HTTPROUTE].reason == "error"
    got = route_checks(data)
    assert got["KD804"].outcome is Outcome.SKIPPED and "API discovery (GET /apis) failed" in got["KD804"].reason


def test_audit_reads_only_served_kinds() -> None:
    answers: dict[str, Answer] = {"/apis": aggregated(APPS, STANDARD)}
    for path in ("/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/pods",
                 "/apis/networking.k8s.io/v1/networkpolicies", "/apis/networking.k8s.io/v1/ingresses",
                 "/apis/apps/v1/deployments", "/api/v1/events", "/api/v1/nodes", "/api/v1/namespaces",
                 "/apis/networking.k8s.io/v1/ingressclasses",
                 "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                 "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                 "/apis/apiregistration.k8s.io/v1/apiservices", "/apis/apps/v1/replicasets",
                 "/apis/apps/v1/statefulsets", "/apis/apps/v1/daemonsets",
                 "/apis/autoscaling/v2/horizontalpodautoscalers"):
        answers[path] = lst()
    for res in ("httproutes", "grpcroutes", "referencegrants", "gateways", "gatewayclasses"):
        answers[f"/apis/{GW}/v1/{res}"] = lst()
    api = FakeAPI(answers)
    data = gather_scope(api, None)
    assert not data.unavailable, data.unavailable
    assert not any(r in p for p in api.paths for r in ("tcproutes", "tlsroutes", "udproutes"))
    assert {Kind.TCPROUTE, Kind.TLSROUTE, Kind.UDPROUTE} <= data.unserved <= data.read
    assert set(ROUTE_KINDS) <= data.read
