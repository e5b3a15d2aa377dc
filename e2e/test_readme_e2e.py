"""The README's first example is real output: the same objects seeded on the local control plane (in a
namespace of this test, shown as `shop`) give the same report, but for the ClusterIP and the pod's
generated name. When the report changes (a new check changes the count line), paste the output this test
prints into README.md."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from scenarios import kubediag_bin
from test_audit_support import delete_namespaces, seed, wait_ready_pods

ROOT = Path(__file__).resolve().parent.parent
NS = "kd-readme"
COMMAND = "$ kubediag svc web -n shop"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("```console\n" + COMMAND + "\n") + len("```console\n" + COMMAND + "\n")
    return text[start : text.index("```", start)]


def normalize(report: str) -> str:
    report = re.sub(r"ClusterIP \d+\.\d+\.\d+\.\d+", "ClusterIP <ip>", report)
    return re.sub(r"frontend-[a-z0-9]{6,10}-[a-z0-9]{5}", "frontend-<pod>", report)


@pytest.fixture(scope="module", autouse=True)
def seeded(cluster: str) -> Iterator[None]:
    # what the README's example diagnoses: a Service whose selector misses its Deployment's label by a dash
    seed(
        NS,
        [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "frontend"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"app": "frontend"}},
                    "template": {
                        "metadata": {"labels": {"app": "frontend"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "web",
                                    "image": "nginx:1.27",
                                    "ports": [{"name": "http", "containerPort": 8080}],
                                }
                            ]
                        },
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {
                    "selector": {"app": "front-end"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            },
        ],
    )
    wait_ready_pods(NS, "frontend", 2)
    yield
    delete_namespaces(NS)


def test_readme_example_is_real_output() -> None:
    proc = subprocess.run(
        [kubediag_bin(), "svc", "web", "-n", NS],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    real = proc.stdout.replace(NS, "shop")
    assert normalize(real) == normalize(readme_example()), "README.md example is stale; real output:\n" + real
