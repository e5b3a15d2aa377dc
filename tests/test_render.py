"""The short `svc` report (the default) and the full checklist (-v): what each shows, in text and Markdown.
JSON keeps every check whatever the flag."""

from __future__ import annotations

import io
import json
from typing import Any

from test_engine import pod, run, slice_for, svc

from kubediag.checks.base import ordered_checks
from kubediag.render import json as render_json
from kubediag.render import markdown, text
from kubediag.render.common import checks_line, skip_groups


def show(report: Any, verbose: bool = False) -> str:
    from rich.console import Console

    buf = io.StringIO()
    text.report(report, Console(file=buf, width=400, no_color=True), verbose)
    return buf.getvalue()


def typo() -> Any:
    """web selects app=front-end; the pod says app=frontend: KD201 is the root cause."""
    return run([svc(selector={"app": "front-end"}), pod("frontend-1", {"app": "frontend"})])


def test_short_report_is_header_root_cause_fix_and_one_line_of_counts() -> None:
    report = typo()
    out = show(report)
    lines = out.rstrip("\n").splitlines()
    assert lines[0].startswith("Service shop/web")
    assert "Root cause: KD201 selector-no-match (critical)" in out
    assert "Fix:" in out and "kubectl -n shop patch service web" in out
    assert "Chain" not in out
    for chk in ordered_checks():  # no checklist: the titles appear only with -v
        assert chk.title not in out
    assert lines[-1].startswith(f"{len(ordered_checks())} checks: 1 failed, ")
    assert "from the root cause KD201" in lines[-1] and lines[-1].endswith("(-v lists them)")
    assert len(lines) < 16, out


def test_verbose_prints_the_full_checklist_as_before() -> None:
    report = typo()
    out = show(report, verbose=True)
    assert "Chain" in out
    for chk in ordered_checks():
        assert f" {chk.id} {chk.title}" in out
    assert "(follows from the root cause KD201)" in out
    assert "checks: 1 failed" not in out  # the count line replaces the checklist, not both


def test_counts_add_up_and_group_skips_by_reason() -> None:
    report = typo()
    groups = dict(skip_groups(report))
    assert sum(groups.values()) == len(report.skipped)
    assert set(groups) <= {"follow from the root cause KD201", "follows from the root cause KD201", "not applicable"}
    line = checks_line(report)
    passed = sum(1 for r in report.results if r.outcome.value == "passed")
    assert f"1 failed, {passed} passed, {len(report.skipped)} skipped (" in line
    # largest group first
    counts = [n for _, n in skip_groups(report)]
    assert counts == sorted(counts, reverse=True)


def test_missing_service_and_data_gaps_are_grouped_with_their_reason() -> None:
    gone = run([], name="nope")
    assert dict(skip_groups(gone)) == {"need the Service, which does not exist": len(ordered_checks()) - 1}
    pods = [pod("web-1", {"app": "web"})]
    report = run(
        [svc(selector={"app": "web"}), *pods, slice_for("web", pods)],
        networkpolicies="forbidden list networkpolicies in namespace shop",
    )
    perm = report.errors[0].describe()
    assert "list networkpolicies in namespace shop" in perm
    groups = dict(skip_groups(report))
    assert groups[f"lack data ({perm})"] == 3  # KD601-KD603
    out = show(report)
    assert f"3 lack data ({perm})" in out and "Incomplete:" in out


def test_healthy_short_report() -> None:
    pods = [pod("web-1", {"app": "web"})]
    out = show(run([svc(selector={"app": "web"}), *pods, slice_for("web", pods)]))
    assert "No problem found on the Service's path." in out
    assert " failed" not in out.splitlines()[-1]


def test_markdown_short_and_verbose() -> None:
    report = typo()
    short = markdown.report(report)
    assert "**Root cause** (KD201" in short and "**Fix**" in short
    assert "| check | result |" not in short
    assert short.rstrip().splitlines()[-1] == f"_{checks_line(report)}_"
    full = markdown.report(report, verbose=True)
    assert "| check | result |" in full
    assert all(f"| {c.id} " in full for c in ordered_checks())


def test_json_keeps_every_check() -> None:
    doc = json.loads(render_json.report(typo()))
    assert [c["check_id"] for c in doc["checks"]] == [c.id for c in ordered_checks()]
