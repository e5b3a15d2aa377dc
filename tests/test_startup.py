"""What `svc` and `audit` load before their first request, and that loading less changes nothing: the
official client's configuration, authentication and transport without the rest of the `kubernetes` package
(kubediag.kubeclient), and typer's option coercion without pydantic for plain values (kubediag.cli)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ENV = {**os.environ, "NO_COLOR": "1"}

HEAVY = ("pydantic", "requests", "requests_oauthlib", "oauthlib", "dateutil", "websocket")


def py(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env or ENV, timeout=60)


def test_svc_loads_only_the_client_parts_it_uses(tmp_path: Path) -> None:
    """A `svc` run (here against a server that answers 401: exit 3) imports no pydantic, no requests/oauthlib
    and no other part of the client; the modules it uses are the client's own."""
    code = (
        "import sys, threading, http.server\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(401); self.send_header('Content-Length', '0'); self.end_headers()\n"
        "    def log_message(self, *a):\n        pass\n"
        "srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "threading.Thread(target=srv.serve_forever, daemon=True).start()\n"
        f"path = {str(tmp_path / 'config')!r}\n"
        "open(path, 'w').write('apiVersion: v1\\nkind: Config\\ncurrent-context: c\\n'\n"
        "    f'clusters: [{{name: c, cluster: {{server: \"http://127.0.0.1:{srv.server_port}\"}}}}]\\n'\n"
        "    'users: [{name: u, user: {token: abc}}]\\n'\n"
        "    'contexts: [{name: c, context: {cluster: c, user: u, namespace: shop}}]\\n')\n"
        "sys.argv=['kubediag', 'svc', 'web', '-o', 'json', '--kubeconfig', path]\n"
        "from kubediag.cli import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('EXIT', e.code, file=sys.stderr)\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "print('PACKAGE', 'kubernetes' in sys.modules, file=sys.stderr)\n"
        "print('REST', 'kubernetes.client.rest' in sys.modules, 'kubernetes.dynamic' in sys.modules, file=sys.stderr)\n"
    )
    out = py(code)
    assert "EXIT 3" in out.stderr, out.stderr
    assert "unauthorized by http://127.0.0.1:" in out.stderr, out.stderr
    assert "HEAVY []" in out.stderr, out.stderr
    assert "PACKAGE False" in out.stderr, out.stderr
    assert "REST True False" in out.stderr, out.stderr


def test_the_full_package_imports_after_the_light_one() -> None:
    """After the light import, `import kubernetes` runs the real package over the modules already loaded, and
    the kubeconfig loader's OIDC names (ApiClient, OAuth2Session, oauthlib) are the real ones on use."""
    code = (
        "import sys\n"
        "from kubediag.kubeclient import parts\n"
        "k = parts()\n"
        "assert 'kubernetes' not in sys.modules and 'pydantic' not in sys.modules\n"
        "import kubernetes, kubernetes.dynamic, kubernetes.watch\n"
        "from kubernetes.config import kube_config\n"
        "from kubernetes.client.api_client import ApiClient\n"
        "assert kubernetes.config.kube_config is kube_config\n"
        "assert kubernetes.client.Configuration is k.Configuration\n"
        "assert kubernetes.client.ApiClient is ApiClient\n"
        "assert kubernetes.client.rest.RESTClientObject is k.RESTClientObject\n"
        "assert kube_config.KubeConfigLoader is k.KubeConfigLoader\n"
        "api = kube_config.ApiClient(configuration=k.Configuration())\n"
        "assert type(api) is ApiClient, type(api)\n"
        "import requests_oauthlib, oauthlib.oauth2\n"
        "assert kube_config.OAuth2Session._real() is requests_oauthlib.OAuth2Session\n"
        "err = kube_config.oauthlib.oauth2.rfc6749.errors.InvalidClientIdError\n"
        "assert err is oauthlib.oauth2.rfc6749.errors.InvalidClientIdError\n"
        "print('OK', kubernetes.__version__)\n"
    )
    out = py(code)
    assert out.stdout.startswith("OK "), out.stderr


def test_a_failed_light_import_leaves_nothing_behind() -> None:
    """When the light import fails (a client laid out differently), no module of it stays registered and the
    client is imported as usual."""
    code = (
        "import sys\n"
        "import kubediag.kubeclient as kc\n"
        "kc.MODULES = (*kc.MODULES, 'kubernetes.client.no_such_module')\n"
        "assert kc._import_light() is False\n"
        "left = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'requests_oauthlib', 'oauthlib'))\n"
        "assert left == [], left\n"
        "k = kc.parts()\n"
        "assert 'kubernetes' in sys.modules and k.Configuration is sys.modules['kubernetes'].client.Configuration\n"
        "print('OK')\n"
    )
    out = py(code)
    assert out.stdout.strip() == "OK", out.stderr


def test_transport_builds_requests_as_the_api_client_does() -> None:
    """URL (host, path, query quoting) and headers (Accept, User-Agent, credentials through the refresh hook)
    as `ApiClient.param_serialize` makes them for the same GET."""
    from kubernetes.client import ApiClient, Configuration

    from kubediag.kubeclient import Transport

    cfg = Configuration(host="https://10.0.0.1:6443")
    cfg.api_key = {"authorization": "old"}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    refreshed: list[int] = []

    def refresh(c: Any) -> None:
        refreshed.append(1)
        c.api_key["authorization"] = "fresh"

    cfg.refresh_api_key_hook = refresh
    api = ApiClient(cfg)
    api.user_agent = "kubediag/test"
    transport = Transport(cfg, "kubediag/test")
    path = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
    for query in (
        {},
        {"labelSelector": "kubernetes.io/service-name=web,app in (a b)", "limit": "500"},
        {"fieldSelector": "metadata.name=web", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ=="},
    ):
        _, url, headers, _, _ = api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        assert transport.url(path, query.items()) == url
        assert transport.headers("application/json") == headers
    assert headers["authorization"] == "Bearer fresh" and len(refreshed) == 6
    _, _, no_accept, _, _ = api.param_serialize(method="GET", resource_path=path, auth_settings=["BearerToken"])
    assert transport.headers() == no_accept


def _commands() -> list[Any]:
    import typer.main

    from kubediag.cli import app

    group = typer.main.get_command(app)
    return [group.commands[name] for name in sorted(group.commands)]  # type: ignore[attr-defined]


VALUES: tuple[Any, ...] = (
    None, "web", "json", "JSON", "Json ", "markdown", "nope", "", "30", "1e3", "0.5", "inf", "nan",
    30.0, 0.5, 1.0, math.inf, math.nan, 5, 0, 1, 50, 51, 500, 5000, 9999, True, False, "true", "0",
    "caf\u00e9", "x\udcff", b"web",
)  # fmt: skip


def test_plain_values_coerce_as_typer_does() -> None:
    """For every parameter of every command and many values: when `_plain_value` answers, typer's own
    coercion (pydantic) returns the same value of the same type; when typer rejects a value, so does the light
    runtime parameter, with typer's message."""
    pytest.importorskip("typer._coercion")
    from typer import core
    from typer._click import Context
    from typer._click.exceptions import BadParameter

    from kubediag import cli

    build = core.build_runtime_param
    if getattr(build, "kubediag_light", False):  # installed by another test in this process
        pytest.skip("typer's own coercion is no longer reachable here")
    answered = 0
    for command in _commands():
        ctx = Context(command)
        for param in command.params:
            real = build(param.type_descriptor)
            for value in VALUES:
                plain = cli._plain_value(param.type_descriptor, value, param, ctx)
                try:
                    expected: Any = real.coerce(value, param=param, ctx=ctx)
                except BadParameter as exc:
                    expected = exc
                if plain is cli._UNSURE:
                    continue
                answered += 1
                assert not isinstance(expected, BadParameter), (command.name, param.name, value, plain)
                assert type(plain) is type(expected) and plain == expected, (command.name, param.name, value)
    assert answered > 100


def test_light_coercion_keeps_typer_results_and_errors() -> None:
    """Through the CLI with the light coercion installed (as `main` does): values typer converts (a number
    given as text) and typer's own error messages for bad values."""
    code = (
        "import sys\n"
        "from kubediag import cli\n"
        "cli._light_typer_coercion()\n"
        "seen = {}\n"
        "from typer.testing import CliRunner\n"
        "import kubediag.gather as g\n"
        "def fake(*a, **k):\n    seen.update(k)\n    raise g.ConfigError('stop')\n"
        "g.Client = fake\n"
        "r = CliRunner().invoke(cli.app, ['svc', 'web', '-n', 'shop', '--timeout', '7', '-o', 'json'])\n"
        "print('TIMEOUT', repr(seen.get('timeout')), r.exit_code)\n"
        "r = CliRunner().invoke(cli.app, ['svc', 'web', '--timeout', 'soon'])\n"
        "print('BAD', r.exit_code, ' '.join(r.output.split()))\n"
        "r = CliRunner().invoke(cli.app, ['svc', 'web', '-o', 'yaml'])\n"
        "print('CHOICE', r.exit_code, ' '.join(r.output.split()))\n"
        "print('PYDANTIC', 'pydantic' in sys.modules)\n"
    )
    light = py(code)
    stock = py(code.replace("cli._light_typer_coercion()\n", ""))
    assert "TIMEOUT 7.0 2" in light.stdout, light.stdout + light.stderr
    assert "PYDANTIC True" in light.stdout  # the bad values went through typer's own coercion
    assert light.stdout.splitlines()[:3] == stock.stdout.splitlines()[:3], (light.stdout, stock.stdout)


def test_while_waiting_runs_on_the_calling_thread_while_requests_are_out() -> None:
    """`svc` imports the diagnosis while its first requests are out (`gather_service(..., while_waiting)`):
    called once, on the calling thread, after the import the route thread also makes (kubediag.checks, under
    a lock: never two threads at once); the data is the same as without it."""
    import threading

    from test_gateway_gather import APPS, GW, STANDARD, FakeAPI, aggregated, core, lst

    from kubediag import gather

    answers = core(**{"/apis": aggregated(APPS, STANDARD), f"/apis/{GW}/v1/httproutes": lst()})
    plain = gather.gather_service(FakeAPI(answers), "shop", "web")
    calls: list[tuple[bool, bool]] = []

    def while_waiting() -> None:
        calls.append((threading.current_thread() is threading.main_thread(), "kubediag.checks.routes" in sys.modules))

    api = FakeAPI(answers)
    data = gather.gather_service(api, "shop", "web", while_waiting=while_waiting)
    assert calls == [(True, True)]
    assert len(api.paths) == 8, api.paths
    assert data.objects == plain.objects and data.read == plain.read and data.unserved == plain.unserved
