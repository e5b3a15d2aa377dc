"""e2e: the real local control plane (e2e/cluster up). Never a mock of the API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def cluster() -> str:
    """The API server must be reachable: an e2e run without a cluster is a failure, not a skip."""
    from scenarios import kubectl_bin

    proc = subprocess.run([kubectl_bin(), "version", "-o", "json"], capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.fail(f"no cluster: run `e2e/cluster up` and `eval $(e2e/cluster env)` ({proc.stderr.strip()})")
    return proc.stdout
