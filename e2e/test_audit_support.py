"""Helpers for the `audit`/`rbac` e2e tests (no tests here): seed namespaces, wait on real conditions, run the
installed CLI, render deploy/ with kustomize, mint ServiceAccount tokens and write token-only kubeconfigs.

Everything goes to the API server on loopback through kubectl or kubediag; never to pod or cluster IPs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import scenarios
import yaml
from scenarios import kubectl, kubectl_bin, kubediag_bin

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


# A Deployment whose pods KWOK runs (and makes ready), a Service selecting it.
def deployment(name: str, replicas: int = 2, simulate: str | None = None, **labels: str) -> dict[str, Any]:
    pod_labels = {"app": name, **labels}
    if simulate:
        pod_labels["kubediag.io/simulate"] = simulate
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "containers": [
                        {
                            "name": name,
                            "image": "nginx:1.27",
                            "ports": [{"name": "http", "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def service(
    name: str, selector: dict[str, str], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": selector,
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
    }
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": body,
    }


def deny_all(name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {"podSelector": {"matchLabels": {"app": app}}, "policyTypes": ["Ingress"]},
    }


def app_objects() -> list[dict[str, Any]]:
    """site healthy; locked blocked by a deny-all policy (broken, KD601); portless: headless, no port."""
    return [
        deployment("site"),
        service("site", {"app": "site"}),
        deployment("locked"),
        service("locked", {"app": "locked"}),
        deny_all("deny-all", "locked"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "portless"},
            "spec": {"clusterIP": "None", "selector": {"app": "site"}},
        },
    ]


def seed(namespace: str, objects: list[dict[str, Any]], labels: dict[str, str] | None = None) -> None:
    """(Re)create `namespace` and apply `objects` into it."""
    kubectl(
        "delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s", check=False
    )
    ns: dict[str, Any] = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    if labels:
        ns["metadata"]["labels"] = labels
    kubectl("apply", "-f", "-", stdin=json.dumps(ns))
    for obj in objects:
        obj.setdefault("metadata", {})["namespace"] = namespace
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(objects))


def delete_namespaces(*names: str) -> None:
    for ns in names:
        kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false", check=False)


def poll(what: str, check: Callable[[], tuple[bool, str]], timeout: float = 120.0) -> None:
    """Re-check a real condition with backoff until it holds; fail after `timeout` with the last state."""
    deadline = time.monotonic() + timeout
    delay, last = 0.2, ""
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
    raise TimeoutError(f"timed out waiting for {what}: {last}")


def _items(*args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl("get", *args, "-o", "json"))["items"]
    return items


def wait_ready_pods(namespace: str, app: str, count: int) -> None:
    def check() -> tuple[bool, str]:
        pods = _items("pods", "-n", namespace, "-l", f"app={app}")
        ready = [
            p
            for p in pods
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
            and not p["metadata"].get("deletionTimestamp")
        ]
        return len(
            ready
        ) >= count, f"{len(ready)}/{len(pods)} pods app={app} ready in {namespace}, want {count}"

    poll(f"{count} ready pods app={app} in {namespace}", check)


def wait_crashloop(namespace: str, app: str, count: int) -> None:
    def check() -> tuple[bool, str]:
        pods = _items("pods", "-n", namespace, "-l", f"app={app}")
        looping = [
            p
            for p in pods
            if any(
                ((cs.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"
                for cs in p.get("status", {}).get("containerStatuses") or []
            )
        ]
        return len(looping) >= count, f"{len(looping)}/{len(pods)} pods app={app} in CrashLoopBackOff"

    poll(f"{count} crash-looping pods app={app} in {namespace}", check)


def wait_endpoints(namespace: str, services: dict[str, int]) -> None:
    """Every named Service has exactly the given number of ready endpoints in its EndpointSlices."""

    def check() -> tuple[bool, str]:
        ready: dict[str, int] = {}
        for s in _items("endpointslices", "-n", namespace):
            svc = (s["metadata"].get("labels") or {}).get("kubernetes.io/service-name", "")
            n = sum(1 for e in s.get("endpoints") or [] if (e.get("conditions") or {}).get("ready"))
            ready[svc] = ready.get(svc, 0) + n
        wrong = {k: (ready.get(k, 0), v) for k, v in services.items() if ready.get(k, 0) != v}
        return not wrong, f"ready endpoints (got, want) in {namespace}: {wrong}"

    poll(f"EndpointSlices in {namespace}", check)


def settle_app(namespace: str) -> None:
    wait_ready_pods(namespace, "site", 2)
    wait_ready_pods(namespace, "locked", 2)
    wait_endpoints(namespace, {"site": 2, "locked": 2})


def run_kubediag(
    *args: str, kubeconfig: str | None = None, timeout: float = 180, stderr: Any = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    if kubeconfig:
        env["KUBECONFIG"] = kubeconfig
    return subprocess.run(
        [kubediag_bin(), *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def audit_json(
    *args: str, kubeconfig: str | None = None
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    proc = run_kubediag("audit", *args, "-o", "json", kubeconfig=kubeconfig)
    assert proc.stdout, f"no JSON on stdout (exit {proc.returncode}); stderr: {proc.stderr}"
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc, proc


def by_service(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{e['service']['namespace']}/{e['service']['name']}": e for e in doc["services"]}


def verdict(entry: dict[str, Any]) -> tuple[str, str | None, list[str]]:
    """What a diagnosis says: status, root-cause category, finding categories."""
    root = (entry["root_cause"] or {}).get("category")
    return entry["status"], root, sorted(f["category"] for f in entry["findings"])


# ---- deploy/ and credentials ------------------------------------------------------------------------------
def render(target: Path, namespace: str, name_suffix: str = "") -> list[dict[str, Any]]:
    """`kubectl kustomize` of a deploy/ kustomization re-targeted at `namespace` (and suffixed names), via a
    temporary overlay: exactly what a user's overlay on top of ours would produce."""
    with tempfile.TemporaryDirectory(prefix="kd-audit-kustomize-") as tmp:
        rel = os.path.relpath(target, tmp)
        body = {"namespace": namespace, "resources": [rel]}
        if name_suffix:
            body["nameSuffix"] = name_suffix
        Path(tmp, "kustomization.yaml").write_text(yaml.safe_dump(body))
        out = subprocess.run(
            [kubectl_bin(), "kustomize", tmp], capture_output=True, text=True, timeout=60, check=False
        )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def apply(docs: list[dict[str, Any]]) -> None:
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))


def token(namespace: str, service_account: str) -> str:
    return kubectl("create", "token", service_account, "-n", namespace, "--duration", "20m").strip()


def token_kubeconfig(tmp: Path, bearer: str, name: str = "sa") -> str:
    """A kubeconfig with the current cluster's server and CA and only `bearer` as credentials (the one
    writer is scenarios.token_kubeconfig; the context's namespace is "default", as when none is set)."""
    return str(scenarios.token_kubeconfig(tmp / f"kubeconfig-{name}", bearer, "default"))


def cluster_dir() -> Path:
    """The kwok cluster directory of the cluster in use (its kubeconfig sits there), else e2e/cluster's."""
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if env and (Path(env).parent / "kwok.yaml").is_file():
        return Path(env).parent
    out = subprocess.run(
        [str(ROOT / "e2e" / "cluster"), "status"], capture_output=True, text=True, timeout=60, check=False
    )
    for line in out.stdout.splitlines():
        if line.startswith("kubeconfig: "):
            return Path(line.split(": ", 1)[1].strip()).parent
    raise AssertionError(
        f"cannot find the cluster directory from e2e/cluster status: {out.stdout} {out.stderr}"
    )
