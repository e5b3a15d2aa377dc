"""The check table is well formed: IDs, categories, docs, fixtures, e2e scenarios, generated docs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from fixtureload import FIXTURES

from kubediag.checks.base import (
    RETIRED_IDS,
    BaseCheck,
    ClusterCheck,
    all_checks,
    cluster_checks,
    ordered_checks,
)
from kubediag.docs import checks_markdown
from kubediag.model import Category, Stage

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ordered_checks()  # the per-Service chain
CLUSTER = cluster_checks()  # the cluster-wide checks of audit
ALL = all_checks()


def scenario_categories() -> set[str]:
    cats: set[str] = set()
    for path in (ROOT / "e2e" / "scenarios").glob("*/scenario.yaml"):
        exp = (yaml.safe_load(path.read_text()) or {}).get("expect") or {}
        if exp.get("root_cause"):
            cats.add(exp["root_cause"])
        cats.update(exp.get("categories") or [])
    return cats


def audit_e2e_cluster_ids() -> set[str]:
    """The cluster-wide check IDs e2e/test_audit_e2e.py asserts on a real audit (its CLUSTER_EXPECTED)."""
    tree = ast.parse((ROOT / "e2e" / "test_audit_e2e.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "CLUSTER_EXPECTED" for t in node.targets
        ):
            assert isinstance(node.value, ast.Dict)
            ids = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
            return ids | _other_e2e_cluster_ids()
    raise AssertionError("e2e/test_audit_e2e.py has no CLUSTER_EXPECTED")


def _other_e2e_cluster_ids() -> set[str]:
    """Cluster-wide check IDs another e2e module asserts on a real audit, listed in its CLUSTER_ASSERTED
    tuple (e2e/test_gateway_e2e.py: the route findings need the Gateway API CRDs)."""
    out: set[str] = set()
    for path in sorted((ROOT / "e2e").glob("test_*_e2e.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "CLUSTER_ASSERTED" for t in node.targets
            ):
                assert isinstance(node.value, ast.Tuple)
                ids = {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
                text = path.read_text()
                out |= {i for i in ids if f'cluster["{i}"]' in text}  # listed and really asserted
    return out


def test_ids_are_unique_stable_and_ordered() -> None:
    ids = [c.id for c in ALL]
    assert len(ids) == len(set(ids))
    assert not set(ids) & RETIRED_IDS
    for cc in CLUSTER:
        assert re.fullmatch(r"KDA\d{2}", cc.id), cc.id
        assert isinstance(cc, ClusterCheck)
    for c in CHECKS:
        assert re.fullmatch(r"KD\d{3}", c.id), c.id
        # the hundreds digit names the stage: KD1xx existence/spec, KD2xx selection ... KD9xx consumers and
        # the data plane (KD95x, --probe)
        assert int(c.id[2]) == {Stage.EXISTENCE: 1, Stage.SPEC: 1, Stage.DATA_PLANE: 9}.get(c.stage, c.stage.order), c.id
    assert [c.stage.order for c in CHECKS] == sorted(c.stage.order for c in CHECKS)


def test_every_category_has_a_check() -> None:
    covered = {c.category for c in ALL}
    # network-policy-reachability is the info-level companion of KD601 (who may reach the Service)
    assert set(Category) - covered <= {Category.NETWORK_POLICY_REACHABILITY}


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
def test_check_is_well_formed(chk: BaseCheck) -> None:
    assert chk.category in set(Category)
    assert chk.title and not chk.title.endswith(".")
    for section in (chk.what, chk.why, chk.example, chk.fix):
        assert len(section.strip()) > 20, f"{chk.id}: a documentation section is too thin"
    assert chk.needs, f"{chk.id} declares the kinds it reads"
    doc = chk.docs_markdown()
    for heading in ("### What it checks", "### Why traffic breaks", "### Example", "### Fix"):
        assert heading in doc


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
def test_check_has_failing_and_passing_fixtures(chk: BaseCheck) -> None:
    files = [p.name for p in (FIXTURES / chk.id).glob("*.yaml")]
    assert any(f.startswith("fail") for f in files), f"{chk.id} has no failing fixture"
    assert any(f.startswith("pass") for f in files), f"{chk.id} has no passing fixture"


@pytest.mark.parametrize("chk", ALL, ids=lambda c: c.id)
def test_check_has_an_e2e_scenario(chk: BaseCheck) -> None:
    if chk.e2e_exempt:
        assert len(chk.e2e_exempt) > 20, "an exemption says why"
        return
    if isinstance(chk, ClusterCheck):
        assert chk.id in audit_e2e_cluster_ids(), f"{chk.id} is not asserted by e2e/test_audit_e2e.py"
        return
    assert chk.category.value in scenario_categories(), f"{chk.id} ({chk.category}) has no e2e scenario"


def test_generated_check_docs_are_current() -> None:
    doc = ROOT / "docs" / "checks.md"
    assert doc.is_file(), "run `make docs`"
    assert doc.read_text() == checks_markdown(), "docs/checks.md is stale: run `make docs`"
