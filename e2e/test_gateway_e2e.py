"""Gateway API on the real API server (the e2e cluster installs the standard-channel CRDs, no controller):
what a healthy Service costs `svc` (API discovery once, at most 8 requests), and `audit`'s cluster-wide
route findings (KDA07/KDA08). The route scenarios themselves are in e2e/scenarios/*route*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from scenarios import ROOT, Scenario, kubectl, wait_for, web_and_typo_manifests
from test_audit_support import run_kubediag

NS = "kd-gateway-cost"
ROUTE = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: broken, namespace: {NS}}}
spec:
  rules:
    - backendRefs: [{{name: gone, port: 80}}]
    - backendRefs: [{{name: web, port: 8080}}]
"""


# cluster-wide checks this module asserts on a real audit (read by tests/test_meta.py)
CLUSTER_ASSERTED = ("KDA07", "KDA08")


def serves_gateway_api() -> bool:
    out = kubectl("api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name", check=False)
    return "httproutes.gateway.networking.k8s.io" in out.split()


@pytest.fixture(scope="module")
def namespace(cluster: str) -> Iterator[str]:
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=90s", check=False)
    kubectl("create", "namespace", NS)
    kubectl("apply", "-f", "-", stdin=web_and_typo_manifests(NS))
    sc = Scenario("gateway-cost", ROOT / "e2e", NS, "web", "", {})
    wait_for(sc, {"pods": "app=web", "state": "ready", "count": 2})
    wait_for(sc, {"endpoints": "web", "ready": 2})
    yield NS
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def requests(stderr: str) -> list[str]:
    return re.findall(r"^debug: GET (\S+) ", stderr, re.M)


def test_healthy_service_without_routes_costs_at_most_eight_requests(namespace: str) -> None:
    proc = run_kubediag("svc", "web", "-n", namespace, "-o", "json", "--debug")
    report = json.loads(proc.stdout)
    assert report["status"] == "healthy" and proc.returncode == 0, proc.stderr
    paths = requests(proc.stderr)
    assert paths.count("/apis") == 1, paths  # API discovery: once per run
    assert len(paths) <= 8, paths
    gateway = [p for p in paths if "gateway.networking.k8s.io" in p]
    if serves_gateway_api():
        assert gateway == ["/apis/gateway.networking.k8s.io/v1/httproutes"], paths  # no route: nothing more
        assert len(paths) == 8
    else:  # a cluster without the CRDs: nothing beyond discovery, the route checks not applicable
        assert gateway == [] and len(paths) == 7, paths
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert skipped["KD804"].startswith("not applicable: ") and report["errors"] == []


def test_audit_reports_route_backends_cluster_wide(namespace: str) -> None:
    if not serves_gateway_api():
        pytest.fail("the e2e cluster serves the Gateway API CRDs (e2e/cluster up installs them)")
    kubectl("apply", "-f", "-", stdin=ROUTE)
    try:
        proc = run_kubediag("audit", "-n", namespace, "-o", "json")
        doc = json.loads(proc.stdout)
        cluster = {c["id"]: c for c in doc["summary"]["cluster_findings"]}
        assert cluster["KDA07"]["outcome"] == "failed", cluster["KDA07"]
        assert cluster["KDA07"]["objects"] == [f"HTTPRoute/{namespace}/broken"]
        assert f"Service {namespace}/gone (does not exist)" in cluster["KDA07"]["message"]
        assert cluster["KDA08"]["outcome"] == "failed"
        assert f"Service {namespace}/web port 8080 (ports: 80)" in cluster["KDA08"]["message"]
        web = next(s for s in doc["services"] if s["service"]["name"] == "web")
        assert web["root_cause"]["category"] == "route-backend-invalid"
    finally:
        kubectl("-n", namespace, "delete", "httproute", "broken", "--ignore-not-found", check=False)
