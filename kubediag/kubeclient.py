"""The official `kubernetes` client's configuration, authentication and transport, and nothing else of it.

kubediag uses six modules of the client: its `Configuration`, the kubeconfig and in-cluster loaders (contexts,
client certificates, tokens, exec plugins, auth-provider refresh), the REST transport over urllib3 and its
`ApiException`. `import kubernetes` runs the package's `__init__`, which also imports every other part of
the client (dynamic, watch, stream, utils, leaderelection, informer) and, with the `ApiClient`, pydantic;
and the kubeconfig loader imports requests-oauthlib and oauthlib at its top, for refreshing an OIDC
auth-provider token only. Importing the package costs about 0.23 s of CPU on a 2-core machine, the six
modules alone about 0.1 s (with typer's pydantic also gone, kubediag.cli, a `svc` went from 0.46 to 0.30 s).

`parts()` imports the six modules without the package's `__init__`: for the time of the import the packages
`kubernetes` and `kubernetes.utils` are placeholders that only say where their modules are, and the names the
kubeconfig loader imports for OIDC (`ApiClient`, `OAuth2Session`, `oauthlib`) are stand-ins that load the
real ones on first use. The placeholders are then dropped: the modules imported stay registered, and a later
`import kubernetes` runs the real `__init__` over them. If anything fails, every module this left behind is
forgotten and the client is imported as usual. The requests themselves are made by `Transport`: the URL,
headers and credentials as the client's `ApiClient.param_serialize` builds them for a GET, sent by the
client's `RESTClientObject`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from kubediag.lazy import deferred_class, deferred_module, standing_in

MODULES = (
    "kubernetes.client.exceptions",
    "kubernetes.client.configuration",
    "kubernetes.client.rest",
    "kubernetes.config.config_exception",
    "kubernetes.config.kube_config",
    "kubernetes.config.incluster_config",
)


def _placeholder_package(name: str, path: list[str]) -> types.ModuleType:
    """A package that only says where its modules are (its __init__ is not run)."""
    package = types.ModuleType(name)
    package.__path__ = path
    package.__package__ = name
    return package


def _import_light() -> bool:
    """Import MODULES without `kubernetes/__init__.py`; False (and no module of it left behind) on failure."""
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return False
    root = list(spec.submodule_search_locations)
    stand_ins = {
        "kubernetes": _placeholder_package("kubernetes", root),
        "kubernetes.utils": _placeholder_package("kubernetes.utils", [os.path.join(p, "utils") for p in root]),
        # what kube_config imports at its top to refresh an OIDC auth-provider token, and nothing else
        "requests_oauthlib": deferred_module(
            "requests_oauthlib", OAuth2Session=deferred_class("requests_oauthlib", "OAuth2Session")
        ),
        "oauthlib": deferred_module("oauthlib"),
        "oauthlib.oauth2": deferred_module("oauthlib.oauth2"),
    }
    api_client = deferred_class("kubernetes.client.api_client", "ApiClient")
    before = set(sys.modules)
    client: types.ModuleType | None = None
    ok = False
    with standing_in(stand_ins):
        try:
            client = importlib.import_module("kubernetes.client")
            if "ApiClient" not in vars(client):  # exported lazily (module __getattr__): kube_config imports it
                client.ApiClient = api_client  # type: ignore[attr-defined]
            for name in MODULES:
                importlib.import_module(name)
            ok = True
        except Exception:
            ok = False
        finally:
            if client is not None and vars(client).get("ApiClient") is api_client:
                del client.ApiClient
    if not ok:
        for name in set(sys.modules) - before:
            if name == "kubernetes" or name.startswith("kubernetes."):
                del sys.modules[name]
    return ok


@functools.cache
def parts() -> types.SimpleNamespace:
    """The client's classes kubediag uses, imported once (without the rest of the client when possible)."""
    if "kubernetes" not in sys.modules and not all(m in sys.modules for m in MODULES):
        _import_light()
    from kubernetes.client.configuration import Configuration
    from kubernetes.client.exceptions import ApiException
    from kubernetes.client.rest import RESTClientObject
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import load_incluster_config
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    return types.SimpleNamespace(
        Configuration=Configuration,
        ApiException=ApiException,
        RESTClientObject=RESTClientObject,
        ConfigException=ConfigException,
        load_incluster_config=load_incluster_config,
        KubeConfigLoader=KubeConfigLoader,
        KubeConfigMerger=KubeConfigMerger,
    )


class Transport:
    """GET requests with the client's configuration and credentials, over its REST transport: the URL and
    headers as `ApiClient.param_serialize` makes them (host + path + query, the user agent, the credentials
    of `Configuration.auth_settings()`, refreshed by its hook), sent by `RESTClientObject.request`."""

    def __init__(self, configuration: Any, user_agent: str) -> None:
        self.configuration = configuration
        self.user_agent = user_agent
        self.rest_client = parts().RESTClientObject(configuration)

    def url(self, path: str, query: Iterable[tuple[str, str]] = ()) -> str:
        url = f"{self.configuration.host}{path}"
        pairs = [f"{k}={quote(str(v))}" for k, v in query]
        return f"{url}?{'&'.join(pairs)}" if pairs else url

    def headers(self, accept: str | None = None) -> dict[str, str]:
        headers = {"Accept": accept} if accept else {}
        headers["User-Agent"] = self.user_agent
        setting = self.configuration.auth_settings().get("BearerToken")  # the only scheme the client has
        if setting and setting["in"] == "header":
            headers[setting["key"]] = setting["value"]
        return headers

    def get(self, url: str, headers: Mapping[str, str], timeout: tuple[float, float]) -> Any:
        """One GET of `url` (from `url`, with `headers`): the client's RESTResponse, whatever its status."""
        return self.rest_client.request("GET", url, headers=dict(headers), _request_timeout=timeout)
