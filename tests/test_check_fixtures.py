"""Every check against its YAML fixtures: failing ones must fail as described, passing ones must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtureload import Fixture, all_fixtures, load_fixture

from kubediag.checks.base import ClusterCheck, find_check
from kubediag.engine import _run_one
from kubediag.model import Outcome


@pytest.mark.parametrize("path", all_fixtures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_check_fixture(path: Path) -> None:
    fx = load_fixture(path)
    chk = find_check(fx.check_id)
    assert chk is not None, f"no check {fx.check_id}"
    if isinstance(chk, ClusterCheck):
        return check_cluster_fixture(path, chk, fx)
    result = _run_one(chk, fx.snapshot, blocked_by=None)
    expect = fx.expect
    want = expect.get("outcome", "failed" if path.stem.startswith("fail") else "passed")
    assert result.outcome is Outcome(want), (result.outcome, result.reason, result.findings)
    if result.outcome is Outcome.FAILED:
        finding = next(f for f in result.findings if f.severity.value != "info")
        assert finding.check_id == chk.id
        assert finding.category.value == expect.get("category", chk.category.value)
        assert finding.severity.value == expect["severity"], finding
        assert finding.remediation.strip()
        assert finding.evidence, "a failing finding carries evidence"
    text = " ".join(
        [
            f.message + " " + f.remediation + " " + " ".join(str(e.as_dict()) for e in f.evidence)
            for f in result.findings
        ]
        + [result.reason]
    )
    for needle in expect.get("mentions", []):
        assert needle in text, f"{needle!r} not in {text!r}"
    for needle in expect.get("not_mentions", []):
        assert needle not in text, f"{needle!r} unexpectedly in {text!r}"


def check_cluster_fixture(path: Path, chk: ClusterCheck, fx: Fixture) -> None:
    """A cluster-wide check over every Service of the fixture: outcome, severity, the objects it names."""
    result = chk.run(fx.fleet)
    expect = fx.expect
    want = expect.get("outcome", "failed" if path.stem.startswith("fail") else "passed")
    assert result.outcome is Outcome(want), result
    assert result.id == chk.id and result.category is chk.category and result.title == chk.title
    if result.outcome is Outcome.FAILED:
        assert result.severity is not None and result.severity.value == expect["severity"], result
        assert result.message and result.remediation.strip()
        assert result.objects, "a failing cluster-wide check names the objects"
    else:
        assert result.severity is None
    if result.outcome is Outcome.SKIPPED:
        assert result.reason
    if "objects" in expect:
        assert list(result.objects) == expect["objects"]
    text = " ".join([result.message, result.remediation, result.reason, *result.objects])
    for needle in expect.get("mentions", []):
        assert needle in text, f"{needle!r} not in {text!r}"
    for needle in expect.get("not_mentions", []):
        assert needle not in text, f"{needle!r} unexpectedly in {text!r}"
