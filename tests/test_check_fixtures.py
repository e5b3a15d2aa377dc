"""Every check against its YAML fixtures: failing ones must fail as described, passing ones must pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtureload import all_fixtures, load_fixture

from kubediag.checks.base import get_check
from kubediag.engine import _run_one
from kubediag.model import Outcome


@pytest.mark.parametrize("path", all_fixtures(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_check_fixture(path: Path) -> None:
    fx = load_fixture(path)
    chk = get_check(fx.check_id)
    assert chk is not None, f"no check {fx.check_id}"
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
