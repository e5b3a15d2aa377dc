"""RBAC on the real API server: forbidden kinds are data, namespace-only credentials work, tokens stay secret.

Namespace `kd-perms`: a Deployment (2 ready replicas), a healthy ClusterIP Service `web`, `web-typo` (selector
typo) and a NodePort Service `web-np` (whose checks want nodes). ServiceAccounts with Roles (never a
ClusterRole: namespace-only credentials), tokens minted with `kubectl create token`, and a kubeconfig with the
cluster's server and CA and the token. The admin (client certificate) reports are the reference.

- all namespaced reads, nothing cluster-scoped: `svc` gives the admin's report word for word for `web` and
  `web-typo`; for `web-np` only the node checks are skipped, naming `list nodes (cluster-wide)`;
  `audit -n kd-perms` gives the admin's per-Service verdicts;
- no NetworkPolicies: their checks are skipped naming `list networkpolicies in namespace kd-perms`, the
  errors say so, everything else is the admin's report;
- no pods: status unknown, exit 4, never selector-no-match;
- list but not get on Services: `get services in namespace kd-perms` is named, status unknown, never
  service-not-found;
- a token the API server rejects (its ServiceAccount deleted, or garbage): exit 3, one line, and the token
  is never printed, not even with --debug;
- --debug with a good token: every request is a GET, none reads Secrets or ConfigMaps, no token printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from scenarios import (
    ROOT,
    Scenario,
    admin_kubeconfig,
    kubectl,
    kubediag_bin,
    token_kubeconfig,
    wait_for,
    web_and_typo_manifests,
)

from kubediag.checks.base import ordered_checks
from kubediag.model import Kind
from kubediag.schemas import load

NS = "kd-perms"
SCHEMA = load("svc-report")

# every namespaced kind kubediag reads, per API group
NAMESPACED: dict[str, list[str]] = {}
for _kind in Kind:
    if not _kind.cluster_scoped:
        NAMESPACED.setdefault(_kind.group, []).append(_kind.value)
WORKLOAD_KINDS = {"deployments", "replicasets", "statefulsets", "daemonsets", "horizontalpodautoscalers"}
# `svc` reads routes cluster-wide (a route in any namespace may name the Service); namespace-only credentials
# read the Service's namespace instead, and the route checks say so in their reason: their text differs
# from the admin's, their outcome does not.
ROUTE_CHECKS = ("KD804", "KD805")


def role(name: str, without: Collection[str] = (), list_only: Collection[str] = ()) -> str:
    """A ServiceAccount bound to a Role with get/list on the namespaced kinds kubediag reads, minus
    `without`; the kinds in `list_only` get `list` but not `get`."""
    rules = []
    for group, resources in NAMESPACED.items():
        for res in resources:
            if res in without:
                continue
            verbs = ["list"] if res in list_only else ["get", "list"]
            rules.append({"apiGroups": [group], "resources": [res], "verbs": verbs})
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NS}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": NS},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": NS},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NS}],
        },
    ]
    return yaml.safe_dump_all(docs)


MANIFESTS = web_and_typo_manifests(NS) + f"""---
apiVersion: v1
kind: Service
metadata: {{name: web-np, namespace: {NS}}}
spec:
  type: NodePort
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
"""

ACCOUNTS = {
    "kd-reader": role("kd-reader"),  # every namespaced kind kubediag reads; nothing cluster-scoped
    "kd-no-netpol": role("kd-no-netpol", without={"networkpolicies"}),
    "kd-no-pods": role("kd-no-pods", without={"pods"}),
    "kd-no-workloads": role("kd-no-workloads", without=WORKLOAD_KINDS),
    "kd-list-services": role("kd-list-services", list_only={"services"}),
    "kd-gone": role("kd-gone"),  # its token outlives it: the API server rejects it (401)
}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.stdout)
        doc.pop("generated_at", None)
        doc.pop("cluster", None)
        return doc


def kubediag(kubeconfig: Path | str, *args: str, timeout: float = 20) -> Run:
    proc = subprocess.run(
        [kubediag_bin(), *args, "-o", "json", "--timeout", f"{timeout:g}", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=timeout + 30,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)



@dataclass
class Env:
    tokens: dict[str, str]
    configs: dict[str, Path]
    admin: dict[str, Run]


@pytest.fixture(scope="module")
def env(cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=90s", check=False)
    kubectl("create", "namespace", NS)
    kubectl("apply", "-f", "-", stdin=MANIFESTS + "---\n" + "---\n".join(ACCOUNTS.values()))
    sc = Scenario("perms", ROOT / "e2e", NS, "web", "", {})
    wait_for(sc, {"pods": "app=web", "state": "ready", "count": 2})
    wait_for(sc, {"endpoints": "web", "ready": 2})
    tmp = tmp_path_factory.mktemp("perms")
    tokens = {sa: kubectl("create", "token", sa, "-n", NS, "--duration=10m").strip() for sa in ACCOUNTS}
    configs = {sa: token_kubeconfig(tmp / f"{sa}.kubeconfig", tok, NS) for sa, tok in tokens.items()}
    kubectl("delete", "serviceaccount", "kd-gone", "-n", NS, "--wait=true")
    # RBAC caches settle fast but not instantly: wait until the reader may list pods (bounded, no fixed sleep)
    deadline = time.monotonic() + 30
    while "yes" not in kubectl(
        "auth", "can-i", "list", "pods", "-n", NS, f"--as=system:serviceaccount:{NS}:kd-reader", check=False
    ):
        assert time.monotonic() < deadline, "the kd-reader Role never took effect"
        time.sleep(0.2)
    admin = {
        "web": kubediag(admin_kubeconfig(), "svc", "web", "-n", NS),
        "web-typo": kubediag(admin_kubeconfig(), "svc", "web-typo", "-n", NS),
        "web-np": kubediag(admin_kubeconfig(), "svc", "web-np", "-n", NS),
    }
    assert admin["web"].report["status"] == "healthy", admin["web"].stdout
    assert admin["web-typo"].report["root_cause"]["category"] == "selector-no-match"
    yield Env(tokens, configs, admin)
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def needing(kind: Kind) -> set[str]:
    return {c.id for c in ordered_checks() if kind in c.needs}


def without_route_checks(report: dict[str, Any]) -> dict[str, Any]:
    return {
        k: [c for c in v if c.get("check_id") not in ROUTE_CHECKS] if k in ("checks", "skipped") else v
        for k, v in report.items()
    }


def outcomes(report: dict[str, Any], exclude: Collection[str] = ()) -> dict[str, tuple[str, str]]:
    """check -> (outcome, reason), but for the checks in `exclude`."""
    return {
        c["check_id"]: (c["outcome"], c.get("reason", ""))
        for c in report["checks"]
        if c["check_id"] not in exclude
    }


@pytest.mark.parametrize("service", ["web", "web-typo"])
def test_namespace_only_credentials_give_the_admin_report(env: Env, service: str) -> None:
    run = kubediag(env.configs["kd-reader"], "svc", service)  # namespace from the kubeconfig context
    assert "Traceback" not in run.stderr
    assert run.code == env.admin[service].code, run.stderr
    mine, admin = run.report, env.admin[service].report
    for cid in ROUTE_CHECKS:  # the outcome is the admin's, the reason names what could not be seen
        ours = next(c for c in mine["checks"] if c["check_id"] == cid)
        theirs = next(c for c in admin["checks"] if c["check_id"] == cid)
        assert ours["outcome"] == theirs["outcome"], (ours, theirs)
        assert "only namespace kd-perms was read (list httproutes (cluster-wide) is forbidden)" in ours["reason"]
    if service == "web":
        assert without_route_checks(mine) == without_route_checks(admin)  # no other cluster-scoped read
        return
    # No ready endpoint: the webhooks and APIServices that may call the Service are read (cluster-scoped,
    # optional). Forbidden here, so only the check needing them is skipped, naming the permission.
    skip = needing(Kind.VALIDATINGWEBHOOK) | set(ROUTE_CHECKS)
    assert outcomes(mine, skip) == outcomes(admin, skip)
    assert (mine["status"], mine["root_cause"]) == (admin["status"], admin["root_cause"])
    reasons = [r for c, (o, r) in outcomes(mine).items() if c in needing(Kind.VALIDATINGWEBHOOK) and o == "skipped"]
    assert reasons and all("forbidden: list validatingwebhookconfigurations (cluster-wide)" in r for r in reasons)


def test_nodes_are_optional_data(env: Env) -> None:
    """A NodePort Service wants nodes; namespace-only credentials cannot list them: only those checks skip."""
    run = kubediag(env.configs["kd-reader"], "svc", "web-np")
    report = run.report
    jsonschema.validate(report, SCHEMA)
    admin = env.admin["web-np"].report
    assert report["status"] != "unknown" and run.code in (0, 1), run.stderr
    assert report["errors"] == [
        {"kind": "nodes", "reason": "forbidden", "detail": "list nodes (cluster-wide)"}
    ]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    for cid in needing(Kind.NODE):
        assert "forbidden: list nodes (cluster-wide)" in skipped[cid], cid
    excluded = needing(Kind.NODE) | set(ROUTE_CHECKS)
    assert outcomes(report, excluded) == outcomes(admin, excluded)


def test_cluster_dns_is_optional_data(env: Env) -> None:
    """--from reads the cluster DNS in kube-system; a namespace-only reader cannot: KD605 is skipped with the
    permission, and the rest of the report is the admin's."""
    pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    client = f"{NS}/{sorted(p['metadata']['name'] for p in pods)[0]}"
    admin = kubediag(admin_kubeconfig(), "svc", "web", "-n", NS, "--from", client)
    run = kubediag(env.configs["kd-reader"], "svc", "web", "--from", client)
    assert "Traceback" not in run.stderr
    jsonschema.validate(run.report, SCHEMA)
    assert (run.code, run.report["status"]) == (admin.code, admin.report["status"]), run.stderr
    assert admin.report["status"] == "healthy", admin.stdout
    admin_checks = outcomes(admin.report)
    assert admin_checks["KD605"][0] == "passed", admin_checks["KD605"]
    got = outcomes(run.report)
    assert got["KD605"][0] == "skipped" and "forbidden: list services in namespace kube-system" in got["KD605"][1]
    # the route checks' reason says that only the namespace's routes were read (see ROUTE_CHECKS)
    assert outcomes(run.report, {"KD605", *ROUTE_CHECKS}) == outcomes(admin.report, {"KD605", *ROUTE_CHECKS})


def test_forbidden_networkpolicies_skip_only_their_checks(env: Env) -> None:
    run = kubediag(env.configs["kd-no-netpol"], "svc", "web")
    report = run.report
    jsonschema.validate(report, SCHEMA)
    admin = env.admin["web"].report
    assert (run.code, report["status"]) == (env.admin["web"].code, admin["status"])
    assert report["status"] != "unknown"
    detail = "list networkpolicies in namespace kd-perms"
    assert report["errors"] == [{"kind": "networkpolicies", "reason": "forbidden", "detail": detail}]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    netpol_checks = needing(Kind.NETWORKPOLICY)
    assert netpol_checks, "the chain has NetworkPolicy checks"
    for cid in netpol_checks:
        assert detail in skipped[cid], (cid, skipped.get(cid))
    excluded = netpol_checks | set(ROUTE_CHECKS)
    assert outcomes(report, excluded) == outcomes(admin, excluded)


def test_forbidden_pods_mean_unknown_never_selector_no_match(env: Env) -> None:
    run = kubediag(env.configs["kd-no-pods"], "svc", "web-typo")
    assert run.code == 4, run.stderr
    report = run.report
    jsonschema.validate(report, SCHEMA)
    assert report["status"] == "unknown"
    categories = {f["category"] for f in report["findings"]}
    assert "selector-no-match" not in categories
    assert report["root_cause"] is None or report["root_cause"]["category"] != "selector-no-match"
    assert {"kind": "pods", "reason": "forbidden", "detail": "list pods in namespace kd-perms"} in report[
        "errors"
    ]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    assert "list pods in namespace kd-perms" in skipped["KD201"]


def test_forbidden_workloads_are_never_read_as_absence(env: Env) -> None:
    """Without the workload kinds a healthy Service reads none of them (the admin's report); with no pod
    selected, KD204/KD205 are skipped naming the permission and KD201 says what it could not rule out."""
    run = kubediag(env.configs["kd-no-workloads"], "svc", "web")
    # (that role reads routes only in its namespace: the route checks say so in their reason)
    assert (run.code, without_route_checks(run.report)) == (
        env.admin["web"].code,
        without_route_checks(env.admin["web"].report),
    )
    run = kubediag(env.configs["kd-no-workloads"], "svc", "web-typo")
    report = run.report
    jsonschema.validate(report, SCHEMA)
    assert report["status"] != "unknown" and run.code == env.admin["web-typo"].code, run.stderr
    assert report["root_cause"]["category"] == "selector-no-match"
    assert "list deployments in namespace kd-perms" in report["root_cause"]["message"]
    assert "could not be ruled out" in report["root_cause"]["message"]
    skipped = {s["check_id"]: s["reason"] for s in report["skipped"]}
    for cid in ("KD204", "KD205"):
        assert "forbidden" in skipped[cid] and "in namespace kd-perms" in skipped[cid], skipped.get(cid)


def test_forbidden_service_get_is_named_and_never_absence(env: Env) -> None:
    run = kubediag(env.configs["kd-list-services"], "svc", "web")
    assert run.code == 4, run.stderr
    report = run.report
    jsonschema.validate(report, SCHEMA)
    assert report["status"] == "unknown"
    assert {
        "kind": "services",
        "reason": "forbidden",
        "detail": "get services in namespace kd-perms",
    } in report["errors"]
    assert all(f["category"] != "service-not-found" for f in report["findings"])
    assert not any("does not exist" in s["reason"] for s in report["skipped"])


def test_audit_with_namespace_only_credentials(env: Env) -> None:
    help_ = subprocess.run([kubediag_bin(), "audit", "--help"], capture_output=True, text=True, timeout=30)
    if help_.returncode != 0:
        pytest.skip("no `kubediag audit` command yet")
    admin = kubediag(admin_kubeconfig(), "audit", "-n", NS)
    run = kubediag(env.configs["kd-reader"], "audit", "-n", NS)
    assert "Traceback" not in run.stderr
    assert run.code == admin.code, run.stderr

    def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        return {
            s["service"]["name"]: (s["status"], (s["root_cause"] or {}).get("category"))
            for s in report["services"]
        }

    got, want = verdicts(run.report), verdicts(admin.report)
    assert set(got) == {"web", "web-typo", "web-np"}
    # web-np's node checks cannot run without nodes (its verdict may differ, but is never unknown)
    assert got.pop("web-np")[0] != "unknown"
    want.pop("web-np")
    assert got == want
    assert "list nodes (cluster-wide)" in json.dumps(run.report["summary"])


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("which", ["deleted-serviceaccount", "garbage"])
def test_rejected_token_exits_3_with_one_line_and_never_prints_it(
    env: Env, tmp_path: Path, which: str, debug: bool
) -> None:
    token = (
        env.tokens["kd-gone"] if which == "deleted-serviceaccount" else "kd-not-a-real-token-0123456789abcdef"
    )
    cfg = token_kubeconfig(tmp_path / "k", token, NS) if which == "garbage" else env.configs["kd-gone"]
    run = kubediag(cfg, "svc", "web", *(["--debug"] if debug else []))
    assert run.code == 3, run.stderr
    assert run.stdout == ""
    server = yaml.safe_load(Path(cfg).read_text())["clusters"][0]["cluster"]["server"]
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("kubediag: ")]
    assert lines == [f"kubediag: unauthorized by {server}: the credentials were rejected (expired token?)"]
    if not debug:
        assert run.stderr.strip().splitlines() == lines and "Traceback" not in run.stderr
    for part in [token, *token.split(".")]:
        if len(part) >= 8:
            assert part not in run.stderr and part not in run.stdout


def test_debug_never_prints_the_token_and_only_reads(env: Env) -> None:
    token = env.tokens["kd-reader"]
    run = kubediag(env.configs["kd-reader"], "svc", "web-typo", "--debug")
    assert run.code == env.admin["web-typo"].code
    for part in [token, *token.split(".")]:
        if len(part) >= 8:
            assert part not in run.stderr and part not in run.stdout
    requests = [ln for ln in run.stderr.splitlines() if ln.startswith("debug: ") and " -> " in ln]
    assert requests and all(ln.startswith("debug: GET /") for ln in requests), requests
    assert not any("/secrets" in ln or "/configmaps" in ln for ln in requests)
