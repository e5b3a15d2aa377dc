"""`kubediag audit` through the installed CLI on the real API server: scope, outputs, summary, cluster-wide
findings, pagination, progress on a TTY only, exit codes, and the same diagnoses as `svc`."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from scenarios import kubectl
from test_audit_support import (
    app_objects,
    audit_json,
    by_service,
    delete_namespaces,
    deployment,
    run_kubediag,
    seed,
    service,
    settle_app,
    verdict,
    wait_crashloop,
    wait_endpoints,
    wait_ready_pods,
)

from kubediag.gather import OPTIONAL_CLUSTER_KINDS
from kubediag.kinds import api_path
from kubediag.model import Kind
from kubediag.schemas import load

A, B, BULK = "kd-audit-a", "kd-audit-b", "kd-audit-bulk"
BULK_SERVICES = 25
SVC_SCHEMA = load("svc-report")
AUDIT = jsonschema.Draft202012Validator(
    load("audit-report"),
    registry=Registry().with_resource(SVC_SCHEMA["$id"], Resource.from_contents(SVC_SCHEMA)),
)


WEBHOOK: dict[str, Any] = {
    "apiVersion": "admissionregistration.k8s.io/v1",
    "kind": "ValidatingWebhookConfiguration",
    "metadata": {"name": f"{A}-policy", "labels": {"kubediag.io/e2e": A}},
    "webhooks": [
        {
            "name": "policy.kd-audit-a.kubediag.io",
            "clientConfig": {"service": {"namespace": A, "name": "policy-webhook", "port": 443}},
            "rules": [
                {
                    "operations": ["CREATE"],
                    "apiGroups": [""],
                    "apiVersions": ["v1"],
                    "resources": ["configmaps"],
                }
            ],
            "failurePolicy": "Ignore",
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": A}},
            "objectSelector": {"matchLabels": {"kubediag.io/never": "matches"}},
            "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "timeoutSeconds": 1,
        }
    ],
}


@pytest.fixture(scope="module", autouse=True)
def seeded(cluster: str) -> Iterator[None]:
    front = {"tier": "front"}
    seed(
        A,
        [
            deployment("web"),
            service("web", {"app": "web"}, front),
            deployment("api"),
            service("api", {"app": "api-server"}, front),  # typo: selects nothing (broken)
            deployment("crash", simulate="crashloop"),
            service("crash", {"app": "crash"}),
            service("lb1", {"app": "web"}, {"kind": "lb"}, type="LoadBalancer"),  # pending: degraded
            service("lb2", {"app": "web"}, {"kind": "lb"}, type="LoadBalancer"),
            service("np", {"app": "web"}, type="NodePort"),  # kwok-node-a has an ExternalIP
            {  # routes to a Service that does not exist: a cluster-wide finding (KDA04)
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "storefront"},
                "spec": {"defaultBackend": {"service": {"name": "cart-api", "port": {"number": 8080}}}},
            },
        ],
    )
    # an admission webhook calling a Service that does not exist (KDA05): scoped to namespace A, to an object
    # label nothing carries, failurePolicy Ignore, so no write anywhere on the shared cluster is affected
    kubectl("apply", "-f", "-", stdin=json.dumps(WEBHOOK))
    seed(B, app_objects())
    seed(
        BULK,
        [deployment("bulk", replicas=1)]
        + [service(f"bulk-{i:02d}", {"app": "bulk"}) for i in range(BULK_SERVICES)],
    )
    wait_ready_pods(A, "web", 2)
    wait_ready_pods(A, "api", 2)
    wait_crashloop(A, "crash", 2)
    wait_endpoints(A, {"web": 2, "lb1": 2, "lb2": 2, "np": 2})
    settle_app(B)
    wait_ready_pods(BULK, "bulk", 1)
    wait_endpoints(BULK, {f"bulk-{i:02d}": 1 for i in range(BULK_SERVICES)})
    yield
    kubectl(
        "delete",
        "validatingwebhookconfiguration",
        WEBHOOK["metadata"]["name"],
        "--ignore-not-found",
        check=False,
    )
    delete_namespaces(A, B, BULK)


EXPECTED = {
    f"{A}/web": ("healthy", None),
    f"{A}/api": ("broken", "selector-no-match"),
    f"{A}/crash": ("broken", "pods-crashloop"),
    f"{A}/lb1": ("degraded", "loadbalancer-pending"),
    f"{A}/lb2": ("degraded", "loadbalancer-pending"),
    f"{A}/np": ("degraded", "nodeport-exposure"),
    f"{B}/site": ("healthy", None),
    f"{B}/locked": ("broken", "network-policy-ingress-blocked"),
    f"{B}/portless": ("healthy", None),
}

# The cluster-wide checks (KDAnn) the audit of A and B must find failing, with objects they must name.
# tests/test_meta.py requires every cluster-wide check to be listed here (or e2e-exempt).
CLUSTER_EXPECTED = {
    "KDA01": [f"{A}/lb1", f"{A}/lb2"],
    "KDA02": [f"{A}/np"],
    "KDA03": [f"{B}/portless"],
    "KDA04": [f"ingress/{A}/storefront"],
    "KDA05": [f"validatingwebhookconfiguration/{A}-policy"],
}


def _summary_of(doc: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {verdict(e)}" for k, e in by_service(doc).items())


def test_scoped_json_statuses_summary_and_cluster_findings() -> None:
    doc, proc = audit_json("-n", A, "-n", B)
    AUDIT.validate(doc)
    got = {k: verdict(e)[:2] for k, e in by_service(doc).items()}
    assert got == EXPECTED, _summary_of(doc)
    assert proc.returncode == 1, proc.stderr  # broken Services: a critical finding
    s = doc["summary"]
    assert s["services"] == len(EXPECTED)
    assert s["status"] == {"healthy": 3, "degraded": 3, "broken": 3, "unknown": 0}
    assert s["namespaces"][A] == {"healthy": 1, "degraded": 3, "broken": 2, "unknown": 0}
    assert s["incomplete"] is False and s["missing_permissions"] == []
    assert {c["category"] for c in s["root_causes"]} >= {"selector-no-match", "loadbalancer-pending"}
    assert doc["scope"] == {
        "all_namespaces": False,
        "namespaces": [A, B],
        "excluded_namespaces": [],
        "label_selector": None,
    }
    assert doc["cluster"]["version"].startswith("v1.")
    cluster = {c["id"]: c for c in s["cluster_findings"]}
    for check_id, objects in CLUSTER_EXPECTED.items():
        assert cluster[check_id]["outcome"] == "failed", cluster[check_id]
        assert set(objects) <= set(cluster[check_id]["objects"]), cluster[check_id]
    assert set(cluster["KDA01"]["objects"]) == {f"{A}/lb1", f"{A}/lb2"}
    assert cluster["KDA03"]["objects"] == [f"{B}/portless"]
    assert "cart-api" in cluster["KDA04"]["message"]


def test_each_entry_is_what_svc_says() -> None:
    doc, _ = audit_json("-n", A, "-n", B)
    for key, entry in by_service(doc).items():
        ns, name = key.split("/")
        proc = run_kubediag("svc", name, "-n", ns, "-o", "json")
        svc = json.loads(proc.stdout)
        jsonschema.validate(svc, SVC_SCHEMA)
        assert verdict(entry) == verdict(svc), key
        assert entry["service"] == svc["service"] and entry["root_cause"] == without_logs(
            svc["root_cause"]
        ), key


def without_logs(finding: dict[str, Any] | None) -> dict[str, Any] | None:
    """svc's finding without the crash-log evidence (pods/log): `audit` reads no logs."""
    if finding is None:
        return None
    evidence = [e for e in finding["evidence"] if not e["field"].startswith("log of container")]
    return {**finding, "evidence": evidence}


def test_all_namespaces_matches_the_scoped_run() -> None:
    scoped = by_service(audit_json("-n", A, "-n", B)[0])
    doc, proc = audit_json("-A")
    AUDIT.validate(doc)
    assert doc["scope"]["all_namespaces"] is True
    everything = by_service(doc)
    for key, entry in scoped.items():
        assert verdict(everything[key]) == verdict(entry), key
    assert any(k.startswith("kube-system/") for k in everything)
    assert "forbidden" not in proc.stderr


def test_text_summary_and_one_line_per_unhealthy_service() -> None:
    proc = run_kubediag("audit", "-n", A, "-n", B)
    assert proc.returncode == 1
    out = proc.stdout
    assert "3 healthy · 3 degraded · 3 broken · 0 unknown" in out
    bad = [ln for ln in out.splitlines() if re.match(r"\s+(BROKEN|DEGRADED|UNKNOWN)\s", ln)]
    assert len(bad) == 6, out
    assert any(f"{A}/api" in ln and "KD201 selector-no-match" in ln for ln in bad)
    assert any(f"{B}/locked" in ln and "network-policy-ingress-blocked" in ln for ln in bad)
    assert not any(f"{A}/web " in ln for ln in out.splitlines())  # healthy: no line
    assert "KDA01" in out and "2 LoadBalancer Services" in out
    assert proc.stderr == "", "no progress bar (nor anything else) on a stderr that is not a terminal"


def test_exclusion_and_label_selector() -> None:
    doc, _ = audit_json("-n", A, "-n", B, "--exclude-namespace", B, "-l", "tier=front")
    assert sorted(by_service(doc)) == [f"{A}/api", f"{A}/web"]
    assert doc["scope"]["label_selector"] == "tier=front" and doc["scope"]["excluded_namespaces"] == [B]


def test_fail_on_warning_and_exit_codes() -> None:
    # only the pending LoadBalancers: warnings
    assert run_kubediag("audit", "-n", A, "-l", "kind=lb").returncode == 0
    assert run_kubediag("audit", "-n", A, "-l", "kind=lb", "--fail-on", "warning").returncode == 1
    assert run_kubediag("audit", "-n", BULK).returncode == 0


def test_jsonl_and_junit() -> None:
    proc = run_kubediag("audit", "-n", A, "-n", B, "-o", "jsonl")
    lines = proc.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    for line in lines:
        jsonschema.validate(json.loads(line), SVC_SCHEMA)
    proc = run_kubediag("audit", "-n", A, "-n", B, "-o", "junit")
    root = ET.fromstring(proc.stdout)
    assert root.get("tests") == str(len(EXPECTED))
    assert root.get("failures") == "3" and root.get("errors") == "0"
    assert {s.get("name") for s in root.findall("testsuite")} == {A, B}
    proc = run_kubediag("audit", "-n", A, "-o", "markdown")
    assert f"| broken | {A}/api | KD201 selector-no-match" in proc.stdout


def test_pagination_reads_every_page() -> None:
    """25 Services with pages of 10: three LIST requests for Services, all 25 diagnosed."""
    proc = run_kubediag("audit", "-n", BULK, "-o", "json", "--page-size", "10", "--debug")
    doc = json.loads(proc.stdout)
    assert doc["summary"]["services"] == BULK_SERVICES
    assert doc["summary"]["status"]["healthy"] == BULK_SERVICES, json.dumps(doc["summary"])
    pages = [ln for ln in proc.stderr.splitlines() if f"GET /api/v1/namespaces/{BULK}/services " in ln]
    assert len(pages) == 3, proc.stderr
    # Only collection LISTs (and /version, and /apis: API discovery): never a request per Service or object.
    paths = {m.group(1) for m in re.finditer(r"^debug: GET (\S+) ", proc.stderr, re.M)}
    kinds = "|".join(k.value for k in Kind if not k.cluster_scoped)
    # cluster-scoped: nodes, namespaces, webhooks, APIServices, IngressClasses, GatewayClasses (any served version)
    cluster = {"/version", "/apis", *(api_path(k) for k in OPTIONAL_CLUSTER_KINDS)}
    for path in paths:
        assert (
            path in cluster
            or re.fullmatch(r"/apis/gateway\.networking\.k8s\.io/v1\w*/gatewayclasses", path)
            or re.fullmatch(rf"/apis?/[a-z0-9./]*v[12]\w*/namespaces/{BULK}/({kinds})", path)
        ), path


def test_progress_bar_only_on_a_terminal() -> None:
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.run(
            [*_kubediag(), "audit", "-n", A, "-n", B, "-n", BULK, "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
            timeout=120,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    tty = b"".join(chunks).decode(errors="replace")
    assert "Diagnosing Services" in tty or "Listing" in tty, tty
    assert json.loads(proc.stdout)["summary"]["services"] == len(EXPECTED) + BULK_SERVICES  # stdout untouched


def _kubediag() -> list[str]:
    from scenarios import kubediag_bin

    return [kubediag_bin()]
