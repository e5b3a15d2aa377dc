"""`--probe` and crash logs on the real API server, beyond the scenario table (e2e/scenarios/probe-*):

- without `create pods/portforward` the probe is skipped naming the permission, the rest of the report and
  the exit code are those of a run without --probe;
- without `get pods/log` the crash-loop finding stands and says the log could not be read;
- the text and Markdown reports show the data plane per endpoint (and "not probed" without --probe);
- the cost of --probe on a healthy Service at the default sample (printed; the README quotes it).

Namespace `kd-probe-perms`. The stand-in applications are loopback servers of this process (e2e/backends.py)
reached by kwok-controller through KWOK PortForward objects: nothing connects to a pod or node address.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from backends import substitute
from scenarios import ROOT, Scenario, admin_kubeconfig, kubectl, kubediag_bin, token_kubeconfig, wait_for

NS = "kd-probe-perms"
READER = "kd-probe-reader"

MANIFESTS = f"""
apiVersion: v1
kind: Pod
metadata: {{name: web-1, namespace: {NS}, labels: {{app: web}}}}
spec:
  containers: [{{name: web, image: nginx:1.27, ports: [{{name: http, containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: web-2, namespace: {NS}, labels: {{app: web}}}}
spec:
  containers: [{{name: web, image: nginx:1.27, ports: [{{name: http, containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: {NS}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-v2, namespace: {NS}}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: http}}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: PortForward
metadata: {{name: web-1, namespace: {NS}}}
spec:
  forwards: [{{ports: [8080], target: {{address: 127.0.0.1, port: ${{BACKEND:http-200}}}}}}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: PortForward
metadata: {{name: web-2, namespace: {NS}}}
spec:
  forwards: [{{ports: [8080], target: {{address: 127.0.0.1, port: ${{BACKEND:http-200}}}}}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: jobs-1, namespace: {NS}, labels: {{app: jobs, kubediag.io/simulate: crashloop}}}}
spec:
  containers: [{{name: worker, image: ghcr.io/example/jobs:1}}]
---
apiVersion: v1
kind: Service
metadata: {{name: jobs, namespace: {NS}}}
spec:
  selector: {{app: jobs}}
  ports: [{{port: 80}}]
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Logs
metadata: {{name: jobs-1, namespace: {NS}}}
spec:
  logs:
    - containers: [worker]
      logsFile: ${{LOGFILE:crashloop-logs/previous.log}}
      previousLogsFile: ${{LOGFILE:crashloop-logs/previous.log}}
"""


def reader_account() -> str:
    """A ServiceAccount with get/list on the namespaced kinds kubediag reads, and neither pods/portforward nor
    pods/log."""
    resources = {
        "": ["services", "pods", "events"],
        "discovery.k8s.io": ["endpointslices"],
        "networking.k8s.io": ["ingresses", "networkpolicies"],
        "apps": ["deployments"],
    }
    rules = [{"apiGroups": [g], "resources": rs, "verbs": ["get", "list"]} for g, rs in resources.items()]
    return yaml.safe_dump_all(
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": READER, "namespace": NS}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": READER, "namespace": NS},
                "rules": rules,
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": READER, "namespace": NS},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": READER},
                "subjects": [{"kind": "ServiceAccount", "name": READER, "namespace": NS}],
            },
        ]
    )



def run(kubeconfig: str | Path, *args: str, output: str = "json") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubediag_bin(), *args, "-n", NS, "-o", output, "--timeout", "20", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.stdout, proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    return doc


@pytest.fixture(scope="module")
def reader(cluster: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", "--timeout=90s", check=False)
    kubectl("create", "namespace", NS)
    kubectl("apply", "-f", "-", stdin=substitute(MANIFESTS) + "---\n" + reader_account())
    sc = Scenario("probe-perms", ROOT / "e2e", NS, "web", "", {})
    wait_for(sc, {"pods": "app=web", "state": "ready", "count": 2})
    wait_for(sc, {"endpoints": "web", "ready": 2})
    wait_for(sc, {"pods": "app=jobs", "state": "crashloop", "count": 1})
    token = kubectl("create", "token", READER, "-n", NS, "--duration=10m").strip()
    path = token_kubeconfig(tmp_path_factory.mktemp("probe") / "reader.kubeconfig", token, NS)
    deadline = time.monotonic() + 30
    while "yes" not in kubectl(
        "auth", "can-i", "list", "pods", "-n", NS, f"--as=system:serviceaccount:{NS}:{READER}", check=False
    ):
        assert time.monotonic() < deadline, "the reader Role never took effect"
        time.sleep(0.2)
    yield path
    kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def _checks(doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {
        c["check_id"]: (c["outcome"], c.get("reason", "")) for c in doc["checks"] if not c["check_id"].startswith("KD95")
    }


def test_probe_without_permission_is_skipped_and_changes_nothing_else(reader: Path) -> None:
    plain = run(reader, "svc", "web")
    probed = run(reader, "svc", "web", "--probe")
    want = f"probe skipped: create pods/portforward forbidden in namespace {NS}"
    doc = report(probed)
    assert doc["probe"]["state"] == "skipped" and doc["probe"]["reason"] == want, doc["probe"]
    assert probed.returncode == plain.returncode == 0, probed.stderr
    base = report(plain)
    assert doc["status"] == base["status"] == "healthy"
    assert _checks(doc) == _checks(base)
    assert doc["findings"] == base["findings"]
    for c in doc["checks"]:
        if c["check_id"].startswith("KD95"):
            assert c["outcome"] == "skipped" and want in c["reason"], c
    text = run(reader, "svc", "web", "--probe", output="text")
    assert want in text.stdout and text.returncode == 0


def test_admin_probe_answers_and_reports_every_format(reader: Path) -> None:
    doc = report(run(admin_kubeconfig(), "svc", "web", "--probe"))
    assert doc["status"] == "healthy" and doc["probe"]["state"] == "probed"
    assert {(r["pod"], r["outcome"], r["http_status"]) for r in doc["probe"]["results"]} == {
        ("web-1", "http", 200),
        ("web-2", "http", 200),
    }
    text = run(admin_kubeconfig(), "svc", "web", "--probe", output="text").stdout
    assert "Data plane: probed 2 of 2 ready endpoint(s)" in text
    assert "pod/web-1 GET / on port 8080 (Service port http) → HTTP 200" in text
    md = run(admin_kubeconfig(), "svc", "web", "--probe", output="markdown").stdout
    assert "**Data plane**: probed 2 of 2" in md and "| pod/web-2 | GET / on port 8080 (Service port http) |" in md
    plain = run(admin_kubeconfig(), "svc", "web", output="text").stdout
    assert "Data plane: not probed" in plain


def test_crash_log_forbidden_keeps_the_finding(reader: Path) -> None:
    admin = report(run(admin_kubeconfig(), "svc", "jobs"))
    assert admin["root_cause"]["category"] == "pods-crashloop"
    assert any("panic: dial tcp 10.96.14.7:5432" in e["observed"] for e in admin["root_cause"]["evidence"])
    doc = report(run(reader, "svc", "jobs"))
    assert doc["root_cause"]["category"] == "pods-crashloop"
    logs = [e for e in doc["root_cause"]["evidence"] if e["field"].startswith("log of container")]
    assert logs and f"not read (forbidden: get pods/log in namespace {NS})" in logs[0]["observed"]
    assert "the finding stands without it" in logs[0]["observed"]
    masked = run(admin_kubeconfig(), "svc", "jobs", "--mask", output="text").stdout
    assert "panic: dial tcp <ip-" in masked and "10.96.14.7" not in masked


def test_probe_cost_on_a_healthy_service(reader: Path) -> None:
    """`svc --probe` at the default sample adds well under a second on the local control plane (median of 5)."""

    def wall(*extra: str) -> float:
        start = time.monotonic()
        proc = run(admin_kubeconfig(), "svc", "web", *extra)
        assert proc.returncode == 0, proc.stderr
        return time.monotonic() - start

    wall()  # warm caches
    plain = statistics.median(wall() for _ in range(5))
    probed = statistics.median(wall("--probe") for _ in range(5))
    print(f"\nsvc web: {plain:.2f} s, svc web --probe: {probed:.2f} s (+{probed - plain:.2f} s)")
    assert probed - plain < 1.0, (plain, probed)


# ---- faults between kubediag and the API server (e2e/faultproxy.py) -----------------------------------------
def _through(proxy: Any, tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    cfg = proxy.write_kubeconfig(tmp / "proxy.kubeconfig", NS)
    start = time.monotonic()
    proc = run(cfg, *args)
    return proc, time.monotonic() - start


def test_log_read_failing_keeps_the_diagnosis_within_its_budget(reader: Path, tmp_path: Path) -> None:
    """pods/log answering 503 forever: retried for the logs' own budget (5 s), then the same diagnosis."""
    from faultproxy import FaultProxy, Rule, status

    baseline = report(run(admin_kubeconfig(), "svc", "jobs"))
    with FaultProxy(admin_kubeconfig(), "http", [Rule(status(503), match=r"/log\?")]) as proxy:
        proc, took = _through(proxy, tmp_path, "svc", "jobs")
    doc = report(proc)
    assert proc.returncode == 1 and took < 20, (proc.returncode, took, proc.stderr)
    assert doc["root_cause"]["category"] == baseline["root_cause"]["category"] == "pods-crashloop"
    assert doc["root_cause"]["message"] == baseline["root_cause"]["message"]
    logs = [e for e in doc["root_cause"]["evidence"] if e["field"].startswith("log of container")]
    assert logs and logs[0]["observed"].startswith("not read (")


def test_probe_through_a_transport_fault_is_never_refused(reader: Path, tmp_path: Path) -> None:
    """The first three connections reset (TLS passes through): retried (API server), never read as a refusal;
    the probe heals or is inconclusive, the diagnosis and the exit code are those of a run without faults."""
    from faultproxy import RESET, FaultProxy, Rule

    with FaultProxy(admin_kubeconfig(), "tcp", [Rule(RESET, times=3)]) as proxy:
        proc, took = _through(proxy, tmp_path, "svc", "web", "--probe")
    doc = report(proc)
    assert proc.returncode == 0 and took < 25, (proc.returncode, took, proc.stderr)
    assert doc["status"] == "healthy"
    assert all(r["outcome"] in ("http", "inconclusive") for r in doc["probe"]["results"]), doc["probe"]


def test_audit_probe_with_a_global_cap(reader: Path) -> None:
    """`audit --probe`: Services are probed in order until --probe-max endpoints; the rest say so."""
    proc = subprocess.run(
        [kubediag_bin(), "audit", "-n", NS, "-o", "json", "--probe", "--probe-max", "1", "--timeout", "60",
         "--kubeconfig", admin_kubeconfig()],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"}, check=False,
    )
    doc = json.loads(proc.stdout)
    probes = {f"{s['service']['namespace']}/{s['service']['name']}": s["probe"] for s in doc["services"]}
    assert probes[f"{NS}/web"]["state"] == "probed"
    assert {(r["outcome"], r["http_status"]) for r in probes[f"{NS}/web"]["results"]} == {("http", 200)}
    assert len({r["pod"] for r in probes[f"{NS}/web"]["results"]}) == 1  # the cap: one endpoint in all
    assert probes[f"{NS}/web-v2"]["state"] == "not-probed"
    assert "--probe-max cap" in probes[f"{NS}/web-v2"]["reason"]
    # jobs sorts before web: it has no ready endpoint (probed, nothing to try) and uses none of the cap
    assert probes[f"{NS}/jobs"]["state"] == "probed" and probes[f"{NS}/jobs"]["results"] == []
    capped = run(admin_kubeconfig(), "svc", "web")  # without --probe, for the exit code
    assert proc.returncode == 1 and capped.returncode == 0  # jobs crash-loops: the audit's worst
