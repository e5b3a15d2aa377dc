"""KUBECONFIG with several files is merged the way kubectl merges it: clusters, users and contexts by name with
the first file winning, current-context from the first file that sets it, missing files ignored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_cli import ENV, kd

from kubediag.gather import Client, ConfigError, current_context, kubeconfig_files


def write(
    path: Path,
    *,
    clusters: dict[str, str] | None = None,
    contexts: dict[str, tuple[str, str]] | None = None,
    current: str | None = None) -> Path:
    clusters, contexts = clusters or {}, contexts or {}
    lines = ["apiVersion: v1", "kind: Config"]
    lines.append(
        "clusters: ["
        + ", ".join(
            f"{{name: {n}, cluster: {{server: '{url}', insecure-skip-tls-verify: true}}}}"
            for n, url in clusters.items()
        )
        + "]"
    )
    lines.append("users: [{name: u, user: {token: t0ken}}]")
    lines.append(
        "contexts: ["
        + ", ".join(
            f"{{name: {n}, context: {{cluster: {c}, user: u, namespace: {ns}}}}}"
            for n, (c, ns) in contexts.items()
        )
        + "]"
    )
    if current is not None:
        lines.append(f"current-context: {current}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return monkeypatch


def test_context_defined_in_the_second_file(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "a", clusters={"a": "https://127.0.0.1:1"}, current="dev")
    second = write(tmp_path / "b", clusters={"b": "https://127.0.0.1:2"}, contexts={"dev": ("b", "shop")})
    env.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    client = Client(timeout=5)
    assert client.server == "https://127.0.0.1:2"
    assert client.default_namespace == "shop"


def test_first_file_wins_per_name_and_for_current_context(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    first = write(
        tmp_path / "a", clusters={"c": "https://127.0.0.1:1"}, contexts={"x": ("c", "one")}, current="x"
    )
    second = write(
        tmp_path / "b",
        clusters={"c": "https://127.0.0.1:2"},
        contexts={"x": ("c", "two"), "y": ("c", "three")},
        current="y",
    )
    env.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    client = Client(timeout=5)
    assert (client.server, client.default_namespace) == ("https://127.0.0.1:1", "one")
    assert current_context([str(first), str(second)]) == "x"
    # --context picks a context only the second file defines; its cluster `c` is still the first file's
    other = Client(context="y", timeout=5)
    assert (other.server, other.default_namespace) == ("https://127.0.0.1:1", "three")


def test_current_context_from_the_first_file_that_sets_it(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "a", clusters={"c": "https://127.0.0.1:1"})  # sets no current-context
    second = write(tmp_path / "b", contexts={"x": ("c", "shop")}, current="x")
    env.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    client = Client(timeout=5)
    assert (client.server, client.default_namespace) == ("https://127.0.0.1:1", "shop")


def test_missing_files_are_ignored_and_duplicates_read_once(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    one = write(
        tmp_path / "a", clusters={"c": "https://127.0.0.1:1"}, contexts={"x": ("c", "shop")}, current="x"
    )
    env.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "missing"), "", str(one), str(one)]))
    files, _ = kubeconfig_files(None)
    assert files == [str(one)]
    assert Client(timeout=5).server == "https://127.0.0.1:1"


def test_undefined_current_context_is_a_config_error(tmp_path: Path, env: pytest.MonkeyPatch) -> None:
    first = write(tmp_path / "a", clusters={"c": "https://127.0.0.1:1"}, current="nowhere")
    env.setenv("KUBECONFIG", str(first))
    with pytest.raises(ConfigError, match="current-context 'nowhere' is not defined"):
        Client(timeout=5)


def test_cli_reads_the_merged_files(tmp_path: Path) -> None:
    """Through the CLI: the context of the second file is found (exit 3: its server refuses, not exit 2)."""
    first = write(tmp_path / "a", clusters={"a": "https://127.0.0.1:9"}, current="dev")
    second = write(tmp_path / "b", clusters={"b": "https://127.0.0.1:1"}, contexts={"dev": ("b", "shop")})
    out = kd("svc", "web", "--timeout", "3", env={**ENV, "KUBECONFIG": f"{first}{os.pathsep}{second}"})
    assert out.returncode == 3, out.stderr
    assert "127.0.0.1:1" in out.stderr and "not found" not in out.stderr
