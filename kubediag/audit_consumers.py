"""`audit` cluster-wide findings KDA04-KDA06: consumers that name a Service that does not exist.

KDA04 Ingress backends, KDA05 admission webhooks (validating and mutating), KDA06 APIServices. Written in
the style of `audit.cluster_checks` (KDA01-KDA03) but kept apart so the findings can move into the check
table with them. Pure.

A Service counts as missing only where the Services were listed completely: the namespace is in scope, the
Services were read, and no `-l` selector filtered them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kubediag.dependents import apiservice_refs, backend_services, webhook_refs, webhook_scope
from kubediag.model import Kind, Severity
from kubediag.snapshot import ClusterData, name_of, ns_of

if TYPE_CHECKING:
    from kubediag.audit import ClusterCheck, Scope


def _listing(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def consumer_checks(data: ClusterData, scope: Scope) -> list[ClusterCheck]:
    from kubediag.audit import ClusterCheck

    out: list[ClusterCheck] = []

    def services_known(namespace: str) -> bool:
        if scope.label_selector or data.missing(Kind.SERVICE) is not None:
            return False
        return scope.namespaces is None or namespace in scope.namespaces

    def missing_service(namespace: str, name: str) -> bool:
        return services_known(namespace) and (namespace, name) not in data.services_by_key

    def run(
        id_: str,
        category: str,
        title: str,
        kinds: tuple[Kind, ...],
        find: Callable[[], tuple[list[str], list[str], Severity, str]],
    ) -> None:
        gaps = [m.describe() for k in kinds if (m := data.missing(k)) is not None]
        if scope.label_selector:
            gaps.append(f"Services are filtered by -l {scope.label_selector}: absence cannot be told")
        elif data.missing(Kind.SERVICE) is not None:
            gaps.append(f"Services could not be listed ({data.missing(Kind.SERVICE).describe()})")  # type: ignore[union-attr]
        if gaps:
            out.append(ClusterCheck(id_, category, title, "skipped", reason="; ".join(gaps)))
            return
        lines, objects, severity, fix = find()
        if not lines:
            out.append(
                ClusterCheck(id_, category, title, "passed", message="every one names an existing Service")
            )
            return
        out.append(
            ClusterCheck(id_, category, title, "failed", severity, "; ".join(lines), fix, tuple(objects))
        )

    # KDA04: Ingress backends naming a Service that does not exist (the route answers 503).
    def ingresses() -> tuple[list[str], list[str], Severity, str]:
        broken: dict[str, list[str]] = {}
        for ing in sorted(data.ingresses, key=lambda i: (ns_of(i), name_of(i))):
            ns = ns_of(ing)
            if not scope.includes(ns):
                continue
            for _, svc in backend_services(ing):
                if missing_service(ns, svc) and svc not in broken.setdefault(f"{ns}/{name_of(ing)}", []):
                    broken[f"{ns}/{name_of(ing)}"].append(svc)
        broken = {k: v for k, v in broken.items() if v}
        lines = [
            f"Ingress {k} routes to Service {', '.join(v)}, which does not exist" for k, v in broken.items()
        ]
        if lines:
            lines = [
                f"{len(lines)} Ingress(es) route to missing Services (those routes answer 503): {_listing(lines, 5)}"
            ]
        return (
            lines,
            [f"ingress/{k}" for k in broken],
            Severity.WARNING,
            "Create the Service, or point the backend at the right one (kubediag svc NAME -n NS names close "
            "names and the Deployment to expose)",
        )

    run(
        "KDA04",
        "ingress-backend-missing-service",
        "Ingress backends name existing Services",
        (Kind.INGRESS,),
        ingresses,
    )

    # KDA05: admission webhooks calling a Service that does not exist.
    def webhooks() -> tuple[list[str], list[str], Severity, str]:
        lines: list[str] = []
        objects: list[str] = []
        severity = Severity.WARNING
        for ref in webhook_refs(data):
            if not missing_service(ref.namespace, ref.service):
                continue
            wh = ref.webhook
            fail = wh.failure_policy != "Ignore"
            severity = Severity.CRITICAL if fail else severity
            effect = (
                f"the API server rejects every write it matches: {webhook_scope(wh, data)}"
                if fail
                else "the writes it matches are admitted without it"
            )
            lines.append(
                f"{ref.kind} {ref.config} webhook {wh.name} (failurePolicy {wh.failure_policy}) calls Service "
                f"{ref.namespace}/{ref.service}, which does not exist: {effect}"
            )
            objects.append(f"{ref.kind.lower()}/{ref.config}")
        return (
            lines[:10],
            list(dict.fromkeys(objects)),
            severity,
            "Restore the webhook's Service (reinstall its operator/chart), or delete the configuration of a "
            "webhook that was uninstalled: kubectl delete validatingwebhookconfiguration NAME (or "
            "mutatingwebhookconfiguration NAME)",
        )

    run(
        "KDA05",
        "webhook-backend-missing-service",
        "Admission webhooks call existing Services",
        (Kind.VALIDATINGWEBHOOK, Kind.MUTATINGWEBHOOK),
        webhooks,
    )

    # KDA06: APIServices served by a Service that does not exist.
    def apis() -> tuple[list[str], list[str], Severity, str]:
        lines: list[str] = []
        objects: list[str] = []
        for api in apiservice_refs(data):
            svc = api.spec.service
            if svc is None or not missing_service(svc.namespace, svc.name):
                continue
            lines.append(
                f"APIService {api.metadata.name} is served by Service {svc.namespace}/{svc.name}, which does not "
                f"exist: {api.spec.group}/{api.spec.version} answers 503, discovery is incomplete and namespace "
                "deletion hangs"
            )
            objects.append(f"apiservice/{api.metadata.name}")
        return (
            lines[:10],
            objects,
            Severity.CRITICAL,
            "Restore the Service (reinstall the API's server, e.g. metrics-server), or remove an API that was "
            "uninstalled: kubectl delete apiservice NAME",
        )

    run(
        "KDA06",
        "apiservice-backend-missing-service",
        "APIServices are served by existing Services",
        (Kind.APISERVICE,),
        apis,
    )
    return out
