"""Shell completion from the cluster, as kubectl's: Service names, namespaces, kubeconfig contexts.

Completion runs on every TAB, so it is bounded (COMPLETION_SECONDS, whatever the network does) and silent:
any failure (no kubeconfig, unreachable, forbidden, a slow server) completes nothing and prints nothing.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

COMPLETION_SECONDS = 2.0
LIMIT = "500"  # one page: enough to complete from, bounded in size


def _bounded(fn: Callable[[], list[str]], seconds: float = COMPLETION_SECONDS) -> list[str]:
    """fn's result, or nothing if it fails or takes longer than `seconds` (the thread is abandoned)."""
    out: list[str] = []
    done = threading.Event()

    def run() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out.extend(fn())
        except BaseException:  # completion is silent on any error
            out.clear()
        finally:
            done.set()

    threading.Thread(target=run, name="kubediag-complete", daemon=True).start()
    return list(out) if done.wait(seconds) else []


def _params(ctx: Any) -> dict[str, Any]:
    params = getattr(ctx, "params", None)
    return params if isinstance(params, dict) else {}


def _client(ctx: Any) -> Any:
    import logging

    logging.disable(logging.CRITICAL)  # the client library logs to stderr; completion stays silent
    from kubediag.gather import Client

    p = _params(ctx)
    return Client(kubeconfig=p.get("kubeconfig"), context=p.get("context"), timeout=COMPLETION_SECONDS)


def _names(client: Any, path: str) -> list[str]:
    doc = client.get(path, {"limit": LIMIT})
    items = doc.get("items") if isinstance(doc, dict) else None
    return sorted(
        str(i["metadata"]["name"])
        for i in items or []
        if isinstance(i, dict) and isinstance(i.get("metadata"), dict) and i["metadata"].get("name")
    )


def _namespace(ctx: Any, client: Any) -> str:
    ns = _params(ctx).get("namespace")
    if isinstance(ns, list):  # audit's repeatable -n
        ns = ns[-1] if ns else None
    return str(ns or client.default_namespace)


def services(ctx: Any, incomplete: str) -> list[str]:
    """Service names in the namespace given so far (-n), else the context's; after `svc/` (or service/,
    services/) the names keep that prefix."""
    from kubediag.kinds import api_path
    from kubediag.model import Kind

    kind, slash, rest = incomplete.rpartition("/")
    if slash and kind.lower() not in ("svc", "service", "services"):
        return []
    prefix = f"{kind}/" if slash else ""

    def fetch() -> list[str]:
        client = _client(ctx)
        return _names(client, api_path(Kind.SERVICE, _namespace(ctx, client)))

    return [prefix + n for n in _bounded(fetch) if n.startswith(rest)]


def namespaces(ctx: Any, incomplete: str) -> list[str]:
    """Namespace names of the cluster."""
    from kubediag.kinds import api_path
    from kubediag.model import Kind

    names = _bounded(lambda: _names(_client(ctx), api_path(Kind.NAMESPACE, None)))
    return [n for n in names if n.startswith(incomplete)]


def contexts(ctx: Any, incomplete: str) -> list[str]:
    """Context names of the kubeconfig (merged as kubectl merges KUBECONFIG); no request to any cluster."""

    def read() -> list[str]:
        from kubediag.gather import kubeconfig_contexts

        return kubeconfig_contexts(_params(ctx).get("kubeconfig"))

    return [n for n in _bounded(read) if n.startswith(incomplete)]
