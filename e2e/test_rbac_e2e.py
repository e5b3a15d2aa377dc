"""deploy/ on the real API server: kubediag with only the ServiceAccount token the manifests grant.

- the cluster-wide base (ClusterRole): `audit -A` completes with no forbidden error and the same diagnoses as
  with admin credentials;
- the namespace-scoped overlay (Role): `audit -n NS` completes (nodes/namespaces reported as forbidden);
- a role without NetworkPolicies and events: those checks are skipped with the permission named, the rest runs,
  the summary says the audit is incomplete;
- the CronJob's pod is admitted in a namespace enforcing the `restricted` Pod Security Standard;
- the API server's audit log shows that every request kubediag made used a read verb.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scenarios import kubectl
from test_audit_support import (
    DEPLOY,
    app_objects,
    apply,
    audit_json,
    by_service,
    cluster_dir,
    delete_namespaces,
    poll,
    render,
    run_kubediag,
    seed,
    settle_app,
    token,
    token_kubeconfig,
    verdict,
)

from kubediag import rbac
from kubediag.model import Kind

RBAC_NS = "kd-audit-rbac"  # the base, re-targeted: ServiceAccount kubediag-kd-audit + CronJob
APP_NS = "kd-audit-rbac-app"  # Services to diagnose
TEAM_NS = "kd-audit-ns"  # the namespaced overlay and its own Services
SUFFIX = "-kd-audit"
SA = f"kubediag{SUFFIX}"
PARTIAL = f"kubediag-partial{SUFFIX}"  # a ClusterRole without networkpolicies and events
READ_VERBS = {"get", "list", "watch"}
STARTED = time.time()


@pytest.fixture(scope="module")
def deployed(cluster: str) -> Iterator[list[dict[str, Any]]]:
    seed(APP_NS, app_objects())
    seed(TEAM_NS, app_objects())
    kubectl(
        "delete", "namespace", RBAC_NS, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False
    )
    base = render(DEPLOY / "base", RBAC_NS, SUFFIX)
    apply(base)
    apply(render(DEPLOY / "overlays" / "namespaced", TEAM_NS))
    partial_rules = [
        {**r, "resources": [x for x in r["resources"] if x not in ("networkpolicies", "events")]}
        for r in rbac.rules()
    ]
    apply(
        [
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": PARTIAL, "namespace": RBAC_NS},
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": PARTIAL},
                "rules": [r for r in partial_rules if r["resources"]],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": PARTIAL},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": PARTIAL},
                "subjects": [{"kind": "ServiceAccount", "name": PARTIAL, "namespace": RBAC_NS}],
            },
        ]
    )
    settle_app(APP_NS)
    settle_app(TEAM_NS)
    yield base
    for kind in ("clusterrolebinding", "clusterrole"):
        kubectl("delete", kind, SA, PARTIAL, "--ignore-not-found", check=False)
    delete_namespaces(RBAC_NS, APP_NS, TEAM_NS)


def _kubeconfig(tmp_path: Path, namespace: str, sa: str) -> str:
    return token_kubeconfig(tmp_path, token(namespace, sa), sa)


# Namespaces whose Services nothing else changes while this module runs (others' tests come and go).
STABLE = (APP_NS, TEAM_NS, "default", "kube-system")


def _ours(doc: dict[str, Any]) -> dict[str, tuple[str, str | None, list[str]]]:
    return {k: verdict(e) for k, e in by_service(doc).items() if k.split("/")[0] in STABLE}


def test_base_grants_exactly_what_audit_all_namespaces_needs(
    deployed: list[dict[str, Any]], tmp_path: Path
) -> None:
    roles = [d for d in deployed if d["kind"] == "ClusterRole"]
    assert [r["rules"] for r in roles] == [rbac.rules()]
    kubeconfig = _kubeconfig(tmp_path, RBAC_NS, SA)
    doc, proc = audit_json("-A", kubeconfig=kubeconfig)
    assert proc.returncode in (0, 1, 4), proc.stderr
    assert "forbidden" not in proc.stderr.lower(), proc.stderr
    s = doc["summary"]
    assert s["incomplete"] is False and s["errors"] == [] and s["missing_permissions"] == [], s["errors"]
    assert all(e["errors"] == [] for e in doc["services"])
    admin, _ = audit_json("-A")
    mine, theirs = _ours(doc), _ours(admin)
    assert {k for k in mine if k.startswith(APP_NS)} == {
        f"{APP_NS}/{n}" for n in ("site", "locked", "portless")
    }
    assert "kube-system/kube-dns" in mine and mine == theirs
    assert mine[f"{APP_NS}/locked"][1] == "network-policy-ingress-blocked"
    # `svc` works with the same token, too
    svc = run_kubediag("svc", "locked", "-n", APP_NS, "-o", "json", kubeconfig=kubeconfig)
    assert json.loads(svc.stdout)["errors"] == [] and svc.returncode == 1, svc.stderr


def _serves(resource: str) -> bool:
    """Whether the cluster serves a Gateway API resource (the e2e cluster installs the CRDs)."""
    out = kubectl("api-resources", "--api-group=gateway.networking.k8s.io", "-o", "name", check=False)
    return any(line.split(".")[0] == resource for line in out.split())


def test_namespaced_overlay_audits_its_namespace(deployed: list[dict[str, Any]], tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path, TEAM_NS, "kubediag")
    doc, proc = audit_json("-n", TEAM_NS, kubeconfig=kubeconfig)
    assert proc.returncode == 1, proc.stderr  # `locked` is broken: the audit itself completed
    assert {k: v[:2] for k, v in _ours(doc).items()} == {
        f"{TEAM_NS}/site": ("healthy", None),
        f"{TEAM_NS}/locked": ("broken", "network-policy-ingress-blocked"),
        f"{TEAM_NS}/portless": ("healthy", None),
    }
    s = doc["summary"]
    # a Role cannot grant the cluster-scoped kinds: reported (each permission named), not fatal
    # (gatewayclasses only when the cluster serves them)
    cluster_kinds = sorted(
        k.value for k in Kind if k.cluster_scoped and (k is not Kind.GATEWAYCLASS or _serves("gatewayclasses"))
    )
    assert s["missing_permissions"] == [f"list {k} (cluster-wide)" for k in cluster_kinds]
    assert s["incomplete"] is True
    assert {e["kind"] for e in s["errors"]} == set(cluster_kinds)
    # another namespace, or the whole cluster, is not readable with these credentials: status unknown
    proc = run_kubediag("audit", "-A", kubeconfig=kubeconfig)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "list services (cluster-wide)" in proc.stdout


def test_role_without_networkpolicies_and_events(deployed: list[dict[str, Any]], tmp_path: Path) -> None:
    kubeconfig = _kubeconfig(tmp_path, RBAC_NS, PARTIAL)
    doc, proc = audit_json("-n", APP_NS, kubeconfig=kubeconfig)
    assert proc.returncode in (0, 1), proc.stderr
    s = doc["summary"]
    assert s["incomplete"] is True
    perms = {f"list events in namespace {APP_NS}", f"list networkpolicies in namespace {APP_NS}"}
    assert set(s["missing_permissions"]) == perms
    skipped = {e["kind"]: e["checks_skipped"] for e in s["errors"]}
    netpol_checks = {c.id for c in _checks() if Kind.NETWORKPOLICY in c.needs}
    assert netpol_checks and netpol_checks <= set(skipped["networkpolicies"])
    assert "incomplete" in proc.stderr  # said on stderr too for machine formats
    locked = by_service(doc)[f"{APP_NS}/locked"]
    outcomes = {c["check_id"]: c for c in locked["checks"]}
    for cid in netpol_checks:
        assert outcomes[cid]["outcome"] == "skipped"
        assert f"forbidden: list networkpolicies in namespace {APP_NS}" in outcomes[cid]["reason"]
    # everything else still ran: the selector, pods and endpoints checks passed
    for cid in ("KD101", "KD201", "KD401"):
        assert outcomes[cid]["outcome"] == "passed", outcomes[cid]
    assert locked["status"] != "unknown"
    text = run_kubediag("audit", "-n", APP_NS, kubeconfig=kubeconfig).stdout
    assert "Incomplete audit" in text and f"list networkpolicies in namespace {APP_NS}" in text
    # cluster-wide, the same role names the cluster-wide permission
    doc, _ = audit_json("-A", kubeconfig=kubeconfig)
    assert "list networkpolicies (cluster-wide)" in doc["summary"]["missing_permissions"]


def test_rejected_token_is_exit_3_in_one_line(deployed: list[dict[str, Any]], tmp_path: Path) -> None:
    kubeconfig = token_kubeconfig(tmp_path, "not-a-valid-token", "bogus")
    proc = run_kubediag("audit", "-A", "-o", "json", kubeconfig=kubeconfig)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "" and "unauthorized" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "not-a-valid-token" not in proc.stderr


def _checks() -> list[Any]:
    from kubediag.checks.base import ordered_checks

    return ordered_checks()


def test_cronjob_pod_is_admitted_as_restricted(deployed: list[dict[str, Any]]) -> None:
    ns_doc = next(d for d in deployed if d["kind"] == "Namespace")
    assert ns_doc["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    cron = next(d for d in deployed if d["kind"] == "CronJob")["metadata"]["name"]
    job = "kd-audit-run"
    kubectl("delete", "job", job, "-n", RBAC_NS, "--ignore-not-found", check=False)
    kubectl("create", "job", job, f"--from=cronjob/{cron}", "-n", RBAC_NS)

    def admitted() -> tuple[bool, str]:
        pods = json.loads(kubectl("get", "pods", "-n", RBAC_NS, "-l", f"job-name={job}", "-o", "json"))[
            "items"
        ]
        events = json.loads(kubectl("get", "events", "-n", RBAC_NS, "-o", "json"))["items"]
        rejected = [e["message"] for e in events if e.get("reason") == "FailedCreate"]
        assert not rejected, rejected  # e.g. "violates PodSecurity restricted:latest"
        return bool(pods), f"{len(pods)} pods for job {job}"

    poll(f"a pod of job {job}", admitted, timeout=60)
    pod = json.loads(kubectl("get", "pods", "-n", RBAC_NS, "-l", f"job-name={job}", "-o", "json"))["items"][0]
    assert pod["spec"]["serviceAccountName"] == SA
    assert pod["spec"]["containers"][0]["args"][:2] == ["audit", "-A"]
    kubectl("delete", "job", job, "-n", RBAC_NS, "--ignore-not-found", "--wait=false", check=False)


def test_every_kubediag_request_was_a_read(deployed: list[dict[str, Any]], tmp_path: Path) -> None:
    """The API server's audit log (level Metadata, e2e/kwok/audit-policy.yaml): every request with kubediag's
    User-Agent or the ServiceAccounts' identities used get/list/watch, on the kinds of `kubediag rbac`."""
    log_dir = cluster_dir() / "logs"
    logs = sorted(log_dir.glob("audit*.log"))
    if not logs:
        pytest.fail(
            f"no API server audit log in {log_dir}: the test cluster must be created with an audit policy "
            "(kwokctl create cluster ... --kube-audit-policy e2e/kwok/audit-policy.yaml, see e2e/cluster up), "
            "then `e2e/cluster down && e2e/cluster up`"
        )
    kubeconfig = _kubeconfig(tmp_path, RBAC_NS, SA)
    marker = run_kubediag("audit", "-A", "-o", "jsonl", kubeconfig=kubeconfig)
    assert marker.returncode in (0, 1, 4), marker.stderr
    users = {f"system:serviceaccount:{RBAC_NS}:{SA}", f"system:serviceaccount:{RBAC_NS}:{PARTIAL}"}
    users.add(f"system:serviceaccount:{TEAM_NS}:kubediag")
    allowed = {k.value for k in Kind}

    def events() -> list[dict[str, Any]]:
        found = []
        for path in logs:
            with path.open(encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if "kubediag" not in line:
                        continue
                    ev = json.loads(line)
                    ua = ev.get("userAgent") or ""
                    user = (ev.get("user") or {}).get("username", "")
                    if ua.startswith("kubediag/") or user in users:
                        found.append(ev)
        return found

    def sa_audit_seen() -> tuple[bool, str]:
        evs = events()
        mine = [
            e for e in evs if (e.get("user") or {}).get("username") == f"system:serviceaccount:{RBAC_NS}:{SA}"
        ]
        recent = [e for e in mine if _epoch(e.get("requestReceivedTimestamp", "")) >= STARTED - 5]
        return bool(recent), f"{len(evs)} kubediag events, {len(recent)} from {SA} during this run"

    poll("the ServiceAccount's requests in the audit log", sa_audit_seen, timeout=30)
    evs = events()
    writes = [
        f"{e['verb']} {e.get('requestURI')} by {(e.get('user') or {}).get('username')} ({e.get('userAgent')})"
        for e in evs
        if e.get("verb") not in READ_VERBS and (e.get("userAgent") or "").startswith("kubediag/")
    ]
    assert not writes, "kubediag made non-read requests:\n" + "\n".join(writes[:20])
    resources = {
        (e.get("objectRef") or {}).get("resource")
        for e in evs
        if (e.get("userAgent") or "").startswith("kubediag/") and e.get("objectRef")
    }
    assert resources <= allowed, resources - allowed
    assert not resources & {"secrets", "configmaps"}
    assert any(e.get("verb") == "list" for e in evs)
    # the ServiceAccounts' requests that kubediag did not make (kubectl create token is made by the admin)
    other = [
        f"{e.get('verb')} {e.get('requestURI')} by {(e.get('user') or {}).get('username')} ({e.get('userAgent')})"
        for e in evs
        if not (e.get("userAgent") or "").startswith("kubediag/") and e.get("verb") not in READ_VERBS
    ]
    assert not other, "kubediag's ServiceAccounts made non-read requests:\n" + "\n".join(other[:20])


def _epoch(ts: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
