"""The one table of checks. Every check is a pure function registered with a stable ID and its documentation.

Two scopes share the table (`CheckScope`): the chain that `svc` and `audit` run for each Service
(`Check`, KDnnn, a function of one Snapshot), and the cluster-wide checks that `audit` runs once over every
Service in scope (`ClusterCheck`, KDAnn, a function of a `Fleet`). Same registry, same docs, same meta-test.

IDs are never reused: a retired check keeps its number in RETIRED_IDS.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from kubediag.model import Category, ClusterResult, Evidence, Finding, Kind, Outcome, Severity, Stage
from kubediag.objects import Service
from kubediag.scope import Scope
from kubediag.snapshot import ClusterData, Snapshot

CheckFunc = Callable[[Snapshot], Iterable[Finding]]
# A check's cheap first precondition: why it does not apply to this Service (the text of its NotApplicable),
# or None. The engine asks it before calling the check, so the many Services it skips cost no call.
Applies = Callable[[Snapshot], str | None]

RETIRED_IDS: frozenset[str] = frozenset()


class CheckScope(enum.StrEnum):
    """What a check looks at: one Service (the chain) or every Service in an audit's scope at once."""

    SERVICE = "service"
    CLUSTER = "cluster"


class NotApplicable(Exception):
    """Raised by a check whose precondition does not hold (e.g. an ExternalName Service has no pods)."""


NO_CLIENT = "no client given (--from NAMESPACE/POD)"


def needs_client(snap: Snapshot) -> str | None:
    """The precondition of the checks of one client's path (`applies`): a client was given."""
    return NO_CLIENT if snap.client is None else None


@dataclass(frozen=True)
class Fleet:
    """The input of a cluster-wide check: the audit's data, the Services in scope (sorted) and the scope
    itself (which namespaces were listed, whether a label selector filtered the Services)."""

    data: ClusterData
    services: Sequence[Service]
    scope: Scope = field(default_factory=Scope)


@dataclass(frozen=True, kw_only=True)
class BaseCheck:
    """What every check has, whatever its scope: a stable ID, a category, a title, the kinds it reads and
    its documentation."""

    id: str
    category: Category
    title: str
    needs: frozenset[Kind]
    what: str
    why: str
    example: str
    fix: str
    # Why no e2e scenario can reproduce it on a control plane without a data plane ("" = it has one).
    e2e_exempt: str = ""

    @property
    def scope(self) -> CheckScope:
        raise NotImplementedError

    def _where(self) -> str:
        raise NotImplementedError

    def docs_markdown(self) -> str:
        needs = ", ".join(sorted(k.value for k in self.needs)) or "-"
        return (
            f"## {self.id} `{self.category.value}`: {self.title}\n\n"
            f"{self._where()} · Reads: {needs}\n\n"
            f"### What it checks\n\n{self.what}\n\n"
            f"### Why traffic breaks\n\n{self.why}\n\n"
            f"### Example\n\n```yaml\n{self.example.strip()}\n```\n\n"
            f"### Fix\n\n{self.fix}\n"
        )


@dataclass(frozen=True, kw_only=True)
class Check(BaseCheck):
    """A link of the per-Service chain."""

    stage: Stage
    # Runs even after an earlier link failed critically (it judges something the root cause does not explain).
    independent: bool
    func: CheckFunc
    # the precondition that `func` tests first (func raises NotApplicable with its text); None: none declared
    applies: Applies | None = None

    @property
    def scope(self) -> CheckScope:
        return CheckScope.SERVICE

    def _where(self) -> str:
        return f"Stage: {self.stage.value}"

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


ClusterCheckFunc = Callable[[Fleet], ClusterResult]


@dataclass(frozen=True, kw_only=True)
class ClusterCheck(BaseCheck):
    """A cluster-wide check of `audit`: runs once over every Service in scope and concludes one result."""

    func: ClusterCheckFunc

    @property
    def scope(self) -> CheckScope:
        return CheckScope.CLUSTER

    def _where(self) -> str:
        return "Scope: cluster-wide (audit)"

    def run(self, fleet: Fleet) -> ClusterResult:
        return self.func(fleet)

    def failed(
        self, severity: Severity, message: str, remediation: str, objects: Iterable[str] = ()
    ) -> ClusterResult:
        return ClusterResult(
            self.id, self.category, self.title, Outcome.FAILED, severity, message, remediation, tuple(objects)
        )

    def passed(self, message: str, objects: Iterable[str] = ()) -> ClusterResult:
        return ClusterResult(
            self.id, self.category, self.title, Outcome.PASSED, message=message, objects=tuple(objects)
        )

    def skipped(self, message: str, reason: str, objects: Iterable[str] = ()) -> ClusterResult:
        return ClusterResult(
            self.id,
            self.category,
            self.title,
            Outcome.SKIPPED,
            message=message,
            objects=tuple(objects),
            reason=reason,
        )


REGISTRY: dict[str, BaseCheck] = {}


def _register(chk: BaseCheck) -> None:
    if chk.id in REGISTRY or chk.id in RETIRED_IDS:
        raise ValueError(f"check ID {chk.id} is already taken")
    REGISTRY[chk.id] = chk


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
    applies: Applies | None = None,
) -> Callable[[CheckFunc], Check]:
    """Register a check of the per-Service chain under a stable ID (KDnnn). `applies` is its first
    precondition (why it does not apply, or None): the check's function tests it before the body, and the
    engine tests it without calling the function."""

    def register(body: CheckFunc) -> Check:
        func = body if applies is None else _preceded(applies, body)
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
            applies=applies,
        )
        _register(chk)
        return chk

    return register


def _preceded(applies: Applies, body: CheckFunc) -> CheckFunc:
    """`body` preceded by its precondition: NotApplicable(the reason) when it does not hold."""

    def func(snap: Snapshot) -> Iterator[Finding]:
        why = applies(snap)
        if why is not None:
            raise NotApplicable(why)
        yield from body(snap)

    functools.update_wrapper(func, body)  # its name and doc; `__wrapped__`: the body, for the engine
    return func


def cluster_check(
    *,
    id: str,
    category: Category,
    title: str,
    needs: Iterable[Kind],
    what: str,
    why: str,
    example: str,
    fix: str,
    e2e_exempt: str = "",
) -> Callable[[ClusterCheckFunc], ClusterCheck]:
    """Register a cluster-wide check of `audit` under a stable ID (KDAnn). The function builds its one
    result with the registered check's `.failed/.passed/.skipped` (as chain checks use `.finding`)."""

    def register(func: ClusterCheckFunc) -> ClusterCheck:
        chk = ClusterCheck(
            id=id,
            category=category,
            title=title,
            needs=frozenset(needs),
            what=what.strip(),
            why=why.strip(),
            example=example.strip("\n"),
            fix=fix.strip(),
            func=func,
            e2e_exempt=e2e_exempt,
        )
        _register(chk)
        return chk

    return register


def _load() -> None:
    import kubediag.checks  # noqa: F401  (registers every check module)


def ordered_checks() -> list[Check]:
    """The per-Service chain: by stage, then by ID."""
    _load()
    chain = [c for c in REGISTRY.values() if isinstance(c, Check)]
    return sorted(chain, key=lambda c: (c.stage.order, c.id))


def cluster_checks() -> list[ClusterCheck]:
    """The cluster-wide checks of `audit`, by ID."""
    _load()
    return sorted((c for c in REGISTRY.values() if isinstance(c, ClusterCheck)), key=lambda c: c.id)


def all_checks() -> list[BaseCheck]:
    """Every check: the chain in order, then the cluster-wide ones (docs, `kubediag checks`)."""
    return [*ordered_checks(), *cluster_checks()]


def get_check(check_id: str) -> Check | None:
    """A check of the per-Service chain by ID."""
    chk = find_check(check_id)
    return chk if isinstance(chk, Check) else None


def find_check(check_id: str) -> BaseCheck | None:
    """Any check by ID, whatever its scope."""
    _load()
    return REGISTRY.get(check_id.upper())
