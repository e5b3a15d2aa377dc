"""An audit as Prometheus metrics, through the reference library (prometheus_client): the text exposition
for the node-exporter textfile collector (`audit -o prometheus`) and the push protocol (`--pushgateway`).

Cardinality is bounded by the number of Services: every label value is a namespace or Service name, a
status, a category, a check ID, a kind or a reason from a fixed vocabulary; never free text.
"""

from __future__ import annotations

import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest, push_to_gateway
from prometheus_client.registry import Collector, CollectorRegistry

from kubediag.audit import STATUSES, AuditResult
from kubediag.checks.base import cluster_checks
from kubediag.model import Category, Status

JOB = "kubediag"  # the Pushgateway job
PREFIX = "kubediag"


@dataclass(frozen=True)
class RunStats:
    """What the run itself measured: its wall time, the API requests it made, when it finished (Unix time)."""

    duration_seconds: float
    requests: int
    finished_at: float


def _families(result: AuditResult, stats: RunStats) -> Iterator[Metric]:
    status = GaugeMetricFamily(
        f"{PREFIX}_service_status",
        "One series per Service audited (value 1): its status and, unless healthy or unknown, the category "
        "and check ID of its root cause (empty otherwise).",
        labels=["namespace", "service", "status", "category", "check_id"],
    )
    for r in result.reports:
        rc = r.root_cause if r.status in (Status.BROKEN, Status.DEGRADED) else None
        status.add_metric(
            [r.namespace, r.name, r.status.value, rc.category.value if rc else "", rc.check_id if rc else ""], 1
        )
    yield status

    by_status = Counter(r.status for r in result.reports)
    services = GaugeMetricFamily(f"{PREFIX}_services", "Services audited, by status.", labels=["status"])
    for s in STATUSES:
        services.add_metric([s.value], by_status[s])
    yield services

    causes = Counter(
        r.root_cause.category
        for r in result.reports
        if r.root_cause is not None and r.status in (Status.BROKEN, Status.DEGRADED)
    )
    by_cause = GaugeMetricFamily(
        f"{PREFIX}_root_causes",
        "Services that are broken or degraded, by the category of their root cause (every category of the "
        "chain, 0 included).",
        labels=["category"],
    )
    for cat in chain_categories():
        by_cause.add_metric([cat.value], causes[cat])
    yield by_cause

    cluster = GaugeMetricFamily(
        f"{PREFIX}_cluster_check",
        "One series per cluster-wide check (KDAnn), value 1: its outcome (passed, failed, skipped).",
        labels=["check_id", "category", "outcome"],
    )
    for c in result.cluster:
        cluster.add_metric([c.id, c.category.value, c.outcome.value], 1)
    yield cluster

    yield GaugeMetricFamily(
        f"{PREFIX}_audit_duration_seconds",
        "Wall time of the audit: reading the scope and diagnosing every Service.",
        value=stats.duration_seconds,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_audit_api_requests", "Requests the audit made to the API server.", value=stats.requests
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_audit_last_success_timestamp_seconds",
        "When the last audit that ran to its end finished (Unix time); a run that fails writes nothing.",
        value=stats.finished_at,
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_audit_incomplete",
        "1 when some kinds could not be read (forbidden or failing): the checks needing them were skipped.",
        value=1 if result.incomplete else 0,
    )
    gaps = GaugeMetricFamily(
        f"{PREFIX}_audit_unavailable",
        "One series per kind that could not be read (value 1), with the reason: forbidden or error.",
        labels=["kind", "reason"],
    )
    for u in result.unavailable:
        gaps.add_metric([u.kind.value, u.reason], 1)
    yield gaps


def chain_categories() -> list[Category]:
    """The categories a Service's root cause can have: all but those of the cluster-wide checks."""
    cluster_only = {c.category for c in cluster_checks()}
    return [c for c in Category if c not in cluster_only]


class _AuditCollector(Collector):
    def __init__(self, result: AuditResult, stats: RunStats) -> None:
        self._result, self._stats = result, stats

    def collect(self) -> Iterator[Metric]:
        yield from _families(self._result, self._stats)


def registry(result: AuditResult, stats: RunStats) -> CollectorRegistry:
    """A registry holding this run's metrics only (no process or platform metrics)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(_AuditCollector(result, stats))
    return reg


def audit(result: AuditResult, stats: RunStats) -> str:
    """`audit -o prometheus`: the Prometheus text exposition format (what the node-exporter textfile
    collector reads)."""
    return generate_latest(registry(result, stats)).decode()


def _direct_handler(
    url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
) -> Callable[[], None]:
    """The library's push, straight to the Pushgateway: no proxy from the environment (like the API client)."""

    def handle() -> None:
        request = urllib.request.Request(url, data=data, method=method)
        for key, value in headers:
            request.add_header(key, value)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as resp:
            if resp.status >= 400:
                raise OSError(f"error talking to pushgateway: {resp.status} {resp.reason}")

    return handle


def push(gateway: str, cluster_name: str, result: AuditResult, stats: RunStats, timeout: float = 30) -> None:
    """Replace this cluster's group on the Pushgateway (PUT, job `kubediag`, grouping key cluster=NAME) with
    this run's metrics, so Services that disappeared disappear from the group too."""
    push_to_gateway(
        gateway,
        job=JOB,
        registry=registry(result, stats),
        grouping_key={"cluster": cluster_name},
        timeout=timeout,
        handler=_direct_handler,
    )
