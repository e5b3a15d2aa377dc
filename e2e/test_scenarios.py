"""Every scenario through the installed CLI: seeded on the real API server, diagnosed with -o json.

The module fixture seeds every selected scenario up front (the controllers and KWOK work on all of them at
once), then settles and diagnoses them concurrently (steps and waits are per namespace; each diagnosis is
its own `kubediag` process); each test asserts one scenario's report.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import pytest
from scenarios import Scenario, cleanup_all, diagnose, load_all, seed_all, settle

from kubediag.schemas import load

SCENARIOS = load_all()
SCHEMA = load("svc-report")
WORKERS = min(8, 2 * (os.cpu_count() or 1))

Result = subprocess.CompletedProcess[str] | BaseException
RESULTS: dict[str, Result] = {}


def _settle_and_diagnose(sc: Scenario) -> Result:
    try:
        settle(sc)
        return diagnose(sc)
    except Exception as exc:  # reported by the scenario's own test
        return exc


def _selected(request: pytest.FixtureRequest) -> list[Scenario]:
    """The scenarios whose tests are collected in this session (honours -k and node ids)."""
    names = {
        param.name
        for item in request.session.items
        if isinstance(param := getattr(item, "callspec", None) and item.callspec.params.get("sc"), Scenario)
    }
    return [sc for sc in SCENARIOS if sc.name in names]


@pytest.fixture(scope="module", autouse=True)
def seeded(cluster: str, request: pytest.FixtureRequest) -> Iterator[None]:
    scenarios = _selected(request)
    seed_all(scenarios)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        RESULTS.update(
            zip((sc.name for sc in scenarios), pool.map(_settle_and_diagnose, scenarios), strict=True)
        )
    yield
    cleanup_all(scenarios)


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: s.name)
def test_scenario(sc: Scenario) -> None:
    proc = RESULTS[sc.name]
    if isinstance(proc, BaseException):
        raise proc
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
    for needle in exp.get("not_mentions") or []:
        assert needle not in proc.stdout, f"{needle!r} unexpectedly in report; {summary}"
