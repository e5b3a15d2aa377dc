"""kubectl conventions on the real API server: `kubectl diag` through the real kubectl, the Service forms
users paste, completion of Services, namespaces and contexts from the cluster (kubectl's plugin completion
included), and a KUBECONFIG of two files whose context is defined in the second."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenarios import kubectl_bin, kubediag_bin
from test_audit_support import (
    delete_namespaces,
    deployment,
    run_kubediag,
    seed,
    service,
    wait_endpoints,
    wait_ready_pods,
)

NS = "kd-kubectl"
BIN = Path(kubediag_bin()).parent


@pytest.fixture(scope="module", autouse=True)
def seeded(cluster: str) -> Iterator[None]:
    seed(NS, [deployment("web"), service("web", {"app": "web"}), service("api", {"app": "api-typo"})])
    wait_ready_pods(NS, "web", 2)
    wait_endpoints(NS, {"web": 2})
    yield
    delete_namespaces(NS)


def env_with_plugin() -> dict[str, str]:
    """kubectl finds plugins on PATH: the venv's bin holds kubectl-diag and kubectl_complete-diag."""
    return {**os.environ, "NO_COLOR": "1", "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def kubectl_diag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [kubectl_bin(), "diag", *args], capture_output=True, text=True, env=env_with_plugin(), timeout=120
    )


def verdict(proc: subprocess.CompletedProcess[str]) -> tuple[str, str, str | None]:
    doc: dict[str, Any] = json.loads(proc.stdout)
    rc = doc["root_cause"]
    return doc["service"]["namespace"] + "/" + doc["service"]["name"], doc["status"], rc and rc["category"]


def test_kubectl_diag_runs_the_plugin() -> None:
    proc = kubectl_diag("svc", "api", "-n", NS, "-o", "json")
    assert proc.returncode == 1, proc.stderr
    assert verdict(proc) == (f"{NS}/api", "broken", "selector-no-match")
    text = kubectl_diag("svc", "api", "-n", NS)
    assert "Root cause: KD201 selector-no-match" in text.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["svc/web", "-n", NS],
        ["service/web", "-n", NS],
        ["services/web", "-n", NS],
        [f"web.{NS}"],
        [f"web.{NS}.svc"],
        [f"web.{NS}.svc.cluster.local"],
        [f"svc/web.{NS}.svc.cluster.local", "-n", NS],
    ],
)
def test_pasted_forms_diagnose_the_same_service(args: list[str]) -> None:
    proc = run_kubediag("svc", *args, "-o", "json")
    assert proc.returncode == 0, proc.stderr
    assert verdict(proc) == (f"{NS}/web", "healthy", None)


def test_conflicting_namespace_asks_nothing_of_the_cluster() -> None:
    proc = run_kubediag("svc", f"web.{NS}", "-n", "default", "--debug")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"kubediag: 'web.{NS}' is in namespace {NS} but -n says default: give one of them"
    ]


def test_completion_from_the_cluster() -> None:
    env = env_with_plugin()

    def bash(words: str) -> list[str]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)
        out = subprocess.run(
            [kubediag_bin()],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "_KUBEDIAG_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
        )
        assert out.stderr == "", out.stderr
        return out.stdout.split()

    assert bash(f"kubediag svc -n {NS} ") == ["api", "web"]
    assert bash(f"kubediag svc -n {NS} w") == ["web"]
    assert bash(f"kubediag svc -n {NS} svc/") == ["svc/api", "svc/web"]
    assert NS in bash("kubediag svc -n kd-kub")
    assert NS in bash("kubediag audit --exclude-namespace kd-kub")
    context = subprocess.run(
        [kubectl_bin(), "config", "current-context"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert context in bash("kubediag svc --context ")
    # kubectl's own completion of the plugin (`kubectl __complete` is what the shell scripts call)
    out = subprocess.run(
        [kubectl_bin(), "__complete", "diag", "svc", "-n", NS, ""],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.stdout.splitlines()[:2] == ["api", "web"], out


def test_kubeconfig_of_two_files_context_in_the_second(tmp_path: Path) -> None:
    """The first file only sets current-context and the user; the second defines the cluster and context."""
    cfg = yaml.safe_load(Path(os.environ["KUBECONFIG"].split(os.pathsep)[0]).read_text())
    first = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": cfg["current-context"],
        "users": cfg["users"],
    }
    second = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": cfg["clusters"],
        "contexts": [
            {**c, "context": {**c["context"], "namespace": NS}} for c in cfg["contexts"]
        ],  # the namespace comes from this file's context
        "current-context": "elsewhere",  # a later file never overrides the first one's current-context
    }
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(yaml.safe_dump(first))
    b.write_text(yaml.safe_dump(second))
    proc = run_kubediag("svc", "web", "-o", "json", kubeconfig=f"{a}{os.pathsep}{b}")
    assert proc.returncode == 0, proc.stderr
    assert verdict(proc) == (f"{NS}/web", "healthy", None)
