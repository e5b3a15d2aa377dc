"""Every scenario through the installed CLI: seeded on the real API server, diagnosed with -o json."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import pytest
from scenarios import Scenario, cleanup_all, diagnose, load_all, seed_all, settle

from kubediag.schemas import load

SCENARIOS = load_all()
SCHEMA = load("svc-report")


@pytest.fixture(scope="module", autouse=True)
def seeded(cluster: str) -> Iterator[None]:
    """Apply every scenario up front: the controllers and KWOK work on all of them at once."""
    seed_all(SCENARIOS)
    yield
    cleanup_all(SCENARIOS)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_scenario(sc: Scenario) -> None:
    settle(sc)
    proc = diagnose(sc)
    assert proc.stdout, f"no report on stdout; stderr: {proc.stderr}"
    report = json.loads(proc.stdout)
    jsonschema.validate(report, SCHEMA)
    exp = sc.expect
    got_root = (report["root_cause"] or {}).get("category")
    summary = f"{sc.name}: status={report['status']} root={got_root} findings=" + "; ".join(
        f"{f['check_id']} {f['category']} {f['severity']}: {f['message']}" for f in report["findings"]
    )
    assert report["status"] == exp["status"], summary
    assert got_root == exp.get("root_cause"), summary
    assert proc.returncode == exp["exit_code"], summary + f" stderr={proc.stderr}"
    got_categories = {f["category"] for f in report["findings"] + report["notes"]}
    for cat in exp.get("categories") or []:
        assert cat in got_categories, summary
    for cat in exp.get("not_categories") or []:
        assert cat not in got_categories, summary
    for needle in exp.get("mentions") or []:
        assert needle in proc.stdout, f"{needle!r} not in report; {summary}"
