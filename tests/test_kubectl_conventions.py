"""kubectl conventions without a cluster: the Service forms users paste, the plugin name, completion that is
silent and bounded when the cluster cannot answer, contexts completed from merged kubeconfig files."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import ENV, kd
from test_kubeconfig import write

from kubediag.cli import UsageError, parse_service_ref

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("ref", "namespace", "want"),
    [
        ("web", None, ("web", None)),
        ("web", "shop", ("web", "shop")),
        ("svc/web", "shop", ("web", "shop")),
        ("service/web", None, ("web", None)),
        ("services/web", None, ("web", None)),
        ("web.shop", None, ("web", "shop")),
        ("web.shop.svc", None, ("web", "shop")),
        ("web.shop.svc.cluster.local", None, ("web", "shop")),
        ("web.shop.svc.cluster.local.", None, ("web", "shop")),
        ("svc/web.shop.svc.corp.example", "shop", ("web", "shop")),  # a custom cluster domain; -n agrees
    ],
)
def test_service_forms(ref: str, namespace: str | None, want: tuple[str, str | None]) -> None:
    assert parse_service_ref(ref, namespace) == want


@pytest.mark.parametrize(
    ("ref", "namespace", "message"),
    [
        ("web.shop", "other", "'web.shop' is in namespace shop but -n says other"),
        ("web.shop.svc.cluster.local", "other", "is in namespace shop but -n says other"),
        ("deploy/web", None, "is not a Service"),
        ("pods/web", None, "is not a Service"),
        ("web.shop.pod.cluster.local", None, "cannot read"),
        ("Web", None, "invalid Service name"),
        ("web.Shop", None, "invalid namespace"),
        ("svc/", None, "invalid Service name"),
    ],
)
def test_bad_service_forms_are_usage_errors(ref: str, namespace: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_service_ref(ref, namespace)


def test_conflicting_namespace_is_one_line_and_exit_2() -> None:
    out = kd("svc", "web.shop.svc.cluster.local", "-n", "other")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "-n says other" in out.stderr
    assert out.stdout == ""


def test_the_plugin_is_installed_and_names_itself_kubectl_diag() -> None:
    plugin = BIN / "kubectl-diag"
    assert plugin.is_file() and os.access(plugin, os.X_OK), "pip install puts kubectl-diag next to kubediag"
    out = subprocess.run([str(plugin), "svc", "--help"], capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 0 and "kubectl diag svc" in out.stdout


def complete(words: str, cword: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubediag")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "_KUBEDIAG_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
    )


def test_completion_is_silent_and_bounded_when_the_cluster_is_unreachable(tmp_path: Path) -> None:
    cfg = write(
        tmp_path / "c", clusters={"c": "https://127.0.0.1:1"}, contexts={"x": ("c", "shop")}, current="x"
    )
    env = {**ENV, "KUBECONFIG": str(cfg)}
    for words, cword in (("kubediag svc ", 2), ("kubediag svc -n ", 3), ("kubediag audit -n s", 3)):
        start = time.monotonic()
        out = complete(words, cword, env)
        assert (out.returncode, out.stdout.strip(), out.stderr) == (0, "", ""), out
        assert time.monotonic() - start < 2 + 8  # the completion bound plus interpreter start-up
    # no kubeconfig at all: nothing either
    assert complete("kubediag svc ", 2, ENV).stdout.strip() == ""


def test_contexts_complete_from_merged_kubeconfig_files(tmp_path: Path) -> None:
    first = write(
        tmp_path / "a", clusters={"c": "https://127.0.0.1:1"}, contexts={"prod": ("c", "x")}, current="prod"
    )
    second = write(tmp_path / "b", contexts={"staging": ("c", "y"), "prod": ("c", "z")})
    env = {**ENV, "KUBECONFIG": f"{first}{os.pathsep}{second}"}
    assert complete("kubediag svc web --context ", 4, env).stdout.split() == ["prod", "staging"]
    assert complete("kubediag audit --context st", 3, env).stdout.split() == ["staging"]
    # kubectl >= 1.26 asks `kubectl_complete-diag ARGS... INCOMPLETE` for `kubectl diag` completions
    out = subprocess.run(
        [str(BIN / "kubectl_complete-diag"), "svc", "--context", "p"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert out.stdout.splitlines() == ["prod", ":4"], out


def test_completion_gives_up_on_a_server_that_never_answers(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        cfg = write(
            tmp_path / "c",
            clusters={"c": f"https://127.0.0.1:{port}"},
            contexts={"x": ("c", "shop")},
            current="x",
        )
        start = time.monotonic()
        out = complete("kubediag svc ", 2, {**ENV, "KUBECONFIG": str(cfg)})
        elapsed = time.monotonic() - start
    assert (out.returncode, out.stdout.strip(), out.stderr) == (0, "", ""), out
    assert elapsed < 2 + 8, elapsed


ROOT = Path(__file__).resolve().parent.parent


def test_krew_manifest_template_renders_to_a_plugin_manifest() -> None:
    import re
    import tomllib

    import yaml

    from kubediag.cli import PLUGIN_NAME

    text = (ROOT / "deploy" / "krew" / "diag.yaml.tmpl").read_text()
    # what krew-release-bot does at release time
    text = re.sub(
        r'\{\{\s*addURIAndSha "([^"]+)" \.TagName\s*\}\}',
        lambda m: f"uri: {m.group(1)}\n    sha256: {'ab' * 32}",
        text,
    )
    text = re.sub(r"\{\{\s*\.TagName\s*\}\}", "v0.1.0", text)
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2" and doc["kind"] == "Plugin"
    assert doc["metadata"]["name"] == "diag" and PLUGIN_NAME == "kubectl-diag"
    assert doc["spec"]["version"] == "v0.1.0" and doc["spec"]["shortDescription"]
    for platform in doc["spec"]["platforms"]:
        assert platform["bin"] == PLUGIN_NAME
        assert platform["uri"].endswith("/v0.1.0/kubectl-diag.tar.gz") and len(platform["sha256"]) == 64
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts[PLUGIN_NAME] == scripts["kubediag"] == "kubediag.cli:main"
    assert scripts["kubectl_complete-diag"] == "kubediag.cli:kubectl_complete"
