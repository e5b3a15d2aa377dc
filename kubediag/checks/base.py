"""The one table of checks. Every check is a pure function over a Snapshot, registered with a stable ID.

IDs are never reused: a retired check keeps its number in RETIRED_IDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubediag.model import Category, Evidence, Finding, Kind, Severity, Stage
from kubediag.snapshot import Snapshot

CheckFunc = Callable[[Snapshot], Iterable[Finding]]

RETIRED_IDS: frozenset[str] = frozenset()


class NotApplicable(Exception):
    """Raised by a check whose precondition does not hold (e.g. an ExternalName Service has no pods)."""


@dataclass(frozen=True)
class Check:
    id: str
    category: Category
    stage: Stage
    title: str
    needs: frozenset[Kind]
    # Runs even after an earlier link failed critically (it judges something the root cause does not explain).
    independent: bool
    what: str
    why: str
    example: str
    fix: str
    func: CheckFunc
    # Why no e2e scenario can reproduce it on a control plane without a data plane ("" = it has one).
    e2e_exempt: str = ""

    def finding(
        self,
        severity: Severity,
        message: str,
        remediation: str,
        evidence: Iterable[Evidence] = (),
        category: Category | None = None,
    ) -> Finding:
        return Finding(
            check_id=self.id,
            category=category or self.category,
            severity=severity,
            message=message,
            remediation=remediation,
            evidence=tuple(evidence),
        )

    def docs_markdown(self) -> str:
        needs = ", ".join(sorted(k.value for k in self.needs)) or "-"
        return (
            f"## {self.id} `{self.category.value}`: {self.title}\n\n"
            f"Stage: {self.stage.value} · Reads: {needs}\n\n"
            f"### What it checks\n\n{self.what}\n\n"
            f"### Why traffic breaks\n\n{self.why}\n\n"
            f"### Example\n\n```yaml\n{self.example.strip()}\n```\n\n"
            f"### Fix\n\n{self.fix}\n"
        )


REGISTRY: dict[str, Check] = {}


def check(
    *,
    id: str,
    category: Category,
    stage: Stage,
    title: str,
    needs: Iterable[Kind],
    what: str,
    why: str,
    example: str,
    fix: str,
    independent: bool = False,
    e2e_exempt: str = "",
) -> Callable[[CheckFunc], Check]:
    """Register a check function under a stable ID."""

    def register(func: CheckFunc) -> Check:
        if id in REGISTRY or id in RETIRED_IDS:
            raise ValueError(f"check ID {id} is already taken")
        chk = Check(
            id=id,
            category=category,
            stage=stage,
            title=title,
            needs=frozenset(needs),
            independent=independent,
            what=what.strip(),
            why=why.strip(),
            example=example.strip("\n"),
            fix=fix.strip(),
            func=func,
            e2e_exempt=e2e_exempt,
        )
        REGISTRY[id] = chk
        return chk

    return register


def ordered_checks() -> list[Check]:
    """The chain: by stage, then by ID."""
    import kubediag.checks  # noqa: F401  (registers every check module)

    return sorted(REGISTRY.values(), key=lambda c: (c.stage.order, c.id))


def get_check(check_id: str) -> Check | None:
    import kubediag.checks  # noqa: F401

    return REGISTRY.get(check_id.upper())
