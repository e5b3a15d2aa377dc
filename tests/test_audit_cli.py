"""`kubediag audit` on the command line without a cluster: usage errors (exit 2, nothing asked of the cluster),
an unreachable API server (exit 3, one line), help without importing `kubernetes`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ENV = {**os.environ, "NO_COLOR": "1", "KUBECONFIG": "/nonexistent/kubeconfig"}


def kd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubediag.cli", *args],
        capture_output=True,
        text=True,
        env=env or ENV,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["audit", "-A", "-n", "shop"], "exclude each other"),
        (["audit", "-n", "Not_A_NS"], "invalid namespace"),
        (["audit", "-A", "--exclude-namespace", "kube_system"], "invalid namespace"),
        (["audit", "-A", "-l", "app in a,b"], "invalid label selector"),
        (["audit", "-A", "-l", "app=we b"], "invalid label selector"),
        (["audit", "-A"], "no kubeconfig"),
        (["audit", "-A", "--kubeconfig", "/nope/config"], "/nope/config does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], needle: str) -> None:
    out = kd(*args)
    assert out.returncode == 2, out
    assert out.stdout == ""
    assert needle in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_bad_output_format_is_a_usage_error() -> None:
    out = kd("audit", "-A", "-o", "xml")
    assert out.returncode == 2 and out.stdout == ""


def test_help_lists_the_options_without_importing_kubernetes() -> None:
    code = (
        "import sys; sys.argv=['kubediag', 'audit', '--help']\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('KUBERNETES' if 'kubernetes' in sys.modules else 'CLEAN', file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**ENV, "COLUMNS": "200"},
        timeout=60,
    )
    assert out.stderr.strip().endswith("CLEAN"), out.stderr
    for opt in (
        "--all-namespaces",
        "--namespace",
        "--selector",
        "--exclude-namespace",
        "--fail-on",
        "jsonl",
        "junit",
    ):
        assert opt in out.stdout, opt


def test_unreachable_api_server_exits_3_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: not-a-real-token}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""
    )
    out = kd("audit", "-A", "-o", "json", "--timeout", "2", env={**ENV, "KUBECONFIG": str(kubeconfig)})
    assert out.returncode == 3, out
    assert out.stdout == ""
    assert f"127.0.0.1:{port}" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert "not-a-real-token" not in out.stderr
