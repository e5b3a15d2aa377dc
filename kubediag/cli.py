"""The `kubediag` command line. `--help`, `checks` and `explain` never import the `kubernetes` package."""

from __future__ import annotations

import contextlib
import enum
import gc
import os
import re
import sys
import time
import traceback
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from kubediag import __version__, complete
from kubediag.text import is_dns1035_label, is_dns1123_label, is_dns1123_subdomain

if TYPE_CHECKING:  # kubediag.model is imported where used: `--help` never needs it
    from kubediag.model import ExitCode, Severity, Status

app = typer.Typer(
    name="kubediag",
    help="Find the one root cause when a Kubernetes Service doesn't work: evidence and fix, in seconds.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Output(enum.StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


class AuditOutput(enum.StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    junit = "junit"
    prometheus = "prometheus"


class FailOn(enum.StrEnum):
    critical = "critical"
    warning = "warning"


class UsageError(Exception):
    """Bad input: exit 2 before any request."""


def _err(message: str) -> None:
    from kubediag.render.common import sanitize

    sys.stderr.write(f"kubediag: {sanitize(message)}\n")


def _exit(code: ExitCode) -> NoReturn:
    raise typer.Exit(int(code))


def _stdout_console(no_color: bool = False) -> Any:
    from rich.console import Console

    color = None if not (no_color or os.environ.get("NO_COLOR")) else "never"
    return Console(
        file=sys.stdout,
        highlight=False,
        soft_wrap=True,
        no_color=color == "never",
        force_terminal=None,
        emoji=False,
        markup=False,
    )


def exit_code_for(status: Status, worst: Severity | None, fail_on: FailOn) -> ExitCode:
    from kubediag.model import ExitCode, Severity, Status

    if status is Status.UNKNOWN:
        return ExitCode.UNKNOWN
    threshold = Severity.CRITICAL if fail_on is FailOn.critical else Severity.WARNING
    if worst is not None and worst.rank >= threshold.rank:
        return ExitCode.FINDINGS
    return ExitCode.OK


def _validate_namespace(ns: str) -> None:
    if not is_dns1123_label(ns):
        raise UsageError(
            f"invalid namespace {ns!r}: must be a DNS-1123 label (lowercase letters, digits, '-')"
        )


SERVICE_KINDS = ("svc", "service", "services")


def parse_service_ref(ref: str, namespace: str | None) -> tuple[str, str | None]:
    """The Service's name and namespace from the forms users paste from kubectl output: NAME, svc/NAME,
    service/NAME, services/NAME, NAME.NAMESPACE, NAME.NAMESPACE.svc and the DNS name
    NAME.NAMESPACE.svc.CLUSTER-DOMAIN. A namespace in the name must agree with -n."""
    name = ref
    kind, slash, rest = ref.partition("/")
    if slash:
        if kind.lower() not in SERVICE_KINDS:
            raise UsageError(f"{ref!r} is not a Service: expected NAME or svc/NAME")
        name = rest
    in_name: str | None = None
    if "." in name:
        parts = name.rstrip(".").split(".")
        if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc" and all(parts[3:])):
            name, in_name = parts[0], parts[1]
            if len(parts) > 3 and not is_dns1123_subdomain(".".join(parts[3:])):
                raise UsageError(f"invalid cluster domain in {ref!r}")
        else:
            raise UsageError(
                f"cannot read {ref!r} as a Service: expected NAME, NAME.NAMESPACE or "
                "NAME.NAMESPACE.svc[.CLUSTER-DOMAIN]"
            )
    if not is_dns1035_label(name):
        raise UsageError(
            f"invalid Service name {name!r}: must be a DNS-1035 label "
            "(lowercase letters, digits, '-', starting with a letter)"
        )
    if in_name is not None:
        _validate_namespace(in_name)
        if namespace is not None and namespace != in_name:
            raise UsageError(f"{ref!r} is in namespace {in_name} but -n says {namespace}: give one of them")
    if namespace is not None:
        _validate_namespace(namespace)
    return name, in_name or namespace


def _parse_from(value: str | None, default_ns: str) -> tuple[str, str] | None:
    if not value:
        return None
    ns, _, pod = value.rpartition("/")
    ns = ns or default_ns
    _validate_namespace(ns)
    if not is_dns1123_subdomain(pod):
        raise UsageError(f"invalid pod name {pod!r} in --from: expected [NAMESPACE/]POD")
    return ns, pod


def _run_guarded(debug: bool, fn: Any) -> None:
    """Turn every failure into one line and a documented exit code; --debug adds the traceback."""
    from kubediag.model import ExitCode
    from kubediag.retry import DeadlineExceeded

    try:
        fn()
    except typer.Exit:
        raise
    except UsageError as exc:
        _err(str(exc))
        _exit(ExitCode.USAGE)
    except KeyboardInterrupt:
        _err("interrupted")
        raise typer.Exit(130) from None
    except DeadlineExceeded as exc:
        if debug:
            traceback.print_exc()
        _err(f"timed out: {exc}")
        _exit(ExitCode.CLUSTER)
    except Exception as exc:
        from kubediag.gather import ClusterError, ConfigError

        if debug:
            traceback.print_exc()
        if isinstance(exc, ConfigError):
            _err(str(exc))
            _exit(ExitCode.USAGE)
        if isinstance(exc, ClusterError):
            _err(str(exc))
            _exit(ExitCode.CLUSTER)
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        _exit(ExitCode.UNKNOWN)


def _debug_log(client: Any) -> None:
    for (method, path, status, seconds), query in zip(client.log.entries, client.log.queries, strict=True):
        tail = f" query {query}" if query else ""
        sys.stderr.write(f"debug: {method} {path} -> {status} in {seconds * 1000:.0f} ms{tail}\n")
    sys.stderr.write(f"debug: {len(client.log.entries)} request(s) to {client.server}\n")


KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Path to the kubeconfig file.", envvar=None)
]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="The kubeconfig context to use.", autocompletion=complete.contexts),
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1.0, help="Overall deadline in seconds.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show requests and tracebacks on stderr.")]
FailOnOpt = Annotated[
    FailOn, typer.Option("--fail-on", help="Exit 1 on a finding at or above this severity.")
]
ProbeOpt = Annotated[
    bool,
    typer.Option(
        "--probe",
        help="Also test the data plane: port-forward through the API server to a sample of ready endpoints "
        "(TCP connect, one GET on HTTP ports). Needs create pods/portforward; opens connections, changes nothing.",
    ),
]
ProbeSampleOpt = Annotated[
    int, typer.Option("--probe-sample", min=1, max=50, help="Endpoints probed per Service with --probe.")
]
MaskOpt = Annotated[
    bool,
    typer.Option(
        "--mask",
        help="Replace label values, IPs and host names with stable placeholders (for public tickets).",
    ),
]


@app.command("svc")
def svc_cmd(
    ref: Annotated[
        str,
        typer.Argument(
            help="The Service: NAME, svc/NAME, service/NAME, NAME.NAMESPACE or its DNS name "
            "(NAME.NAMESPACE.svc.cluster.local).",
            metavar="SERVICE",
            autocompletion=complete.services,
        ),
    ],
    namespace: Annotated[
        str | None,
        typer.Option(
            "-n",
            "--namespace",
            help="Namespace (default: the context's, then 'default').",
            autocompletion=complete.namespaces,
        ),
    ] = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    output: Annotated[Output, typer.Option("-o", "--output", help="Report format.")] = Output.text,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Client pod [NAMESPACE/]POD: evaluate its path (NetworkPolicy ingress, egress and DNS).",
        ),
    ] = None,
    fail_on: FailOnOpt = FailOn.critical,
    timeout: TimeoutOpt = 30.0,
    mask: MaskOpt = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="List every check of the chain (text and markdown).")
    ] = False,
    probe: ProbeOpt = False,
    probe_sample: ProbeSampleOpt = 5,
    debug: DebugOpt = False,
) -> None:
    """Diagnose one Service: the root cause with its evidence and fix, the other findings, the checks counted."""

    def run() -> None:
        name, ns_given = parse_service_ref(ref, namespace)
        if from_ is not None:
            _parse_from(from_, ns_given or "default")  # syntax first, before any request
        from kubediag.gather import Client, gather_service

        client = Client(kubeconfig=kubeconfig, context=context, timeout=timeout)
        ns = ns_given or client.default_namespace
        client_ref = _parse_from(from_, ns)
        try:
            with _gc_paused():
                data = gather_service(client, ns, name, client_ref, lambda: _import_for_report(output))
            if probe:
                data = _with_probe(client, data, ns, name, probe_sample)
        finally:
            if debug:
                _debug_log(client)
        from kubediag.engine import diagnose
        from kubediag.snapshot import ClientRef, Snapshot

        snap = Snapshot(ns, name, data, ClientRef(*client_ref) if client_ref else None)
        report = diagnose(snap)
        emit_report(report, output, mask, snap, verbose)
        _output_written()
        _exit(exit_code_for(report.status, report.worst, fail_on))

    _run_guarded(debug, run)


def _import_for_report(output: Output) -> None:
    """Import what diagnosing and writing the report take (the checks, the renderer, rich for text): `svc`
    does it while its first requests are out."""
    import kubediag.engine
    import kubediag.render.json
    import kubediag.render.markdown
    import kubediag.render.text  # noqa: F401

    if output is Output.text:
        import rich.console  # noqa: F401


def _with_probe(client: Any, data: Any, namespace: str, name: str, sample: int, deadline: float | None = None) -> Any:
    """--probe after gathering: port-forward through the API server (kubediag.gather.probe_service)."""
    import dataclasses

    from kubediag.gather import probe_service
    from kubediag.probes import DataPlane

    run = probe_service(client, data, namespace, name, sample, deadline)
    plane = data.data_plane or DataPlane()
    return dataclasses.replace(data, data_plane=dataclasses.replace(plane, probe=run))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing large LIST responses allocates millions of containers and none of them is garbage: pause
    the cycle collector meanwhile, then freeze what was read so later collections skip it."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def emit_report(report: Any, output: Output, mask: bool, snap: Any, verbose: bool = False) -> None:
    from kubediag.render import json as render_json
    from kubediag.render import markdown, text

    if mask:
        from kubediag.mask import Masker

        masker = Masker.from_data(snap.data)
        report = masker.report(report)
    if output is Output.json:
        sys.stdout.write(render_json.report(report) + "\n")
    elif output is Output.markdown:
        sys.stdout.write(markdown.report(report, verbose))
    else:
        text.report(report, _stdout_console(), verbose)


@app.command("checks")
def checks_cmd(
    output: Annotated[Output, typer.Option("-o", "--output", help="Format.")] = Output.text,
) -> None:
    """List every check: the chain in order, then the cluster-wide checks of audit."""
    from kubediag.docs import checks_json, checks_markdown, checks_text

    if output is Output.json:
        sys.stdout.write(checks_json() + "\n")
    elif output is Output.markdown:
        sys.stdout.write(checks_markdown())
    else:
        sys.stdout.write(checks_text())


@app.command("explain")
def explain_cmd(
    check_id: Annotated[str, typer.Argument(help="A check ID, e.g. KD201, or a category.")],
) -> None:
    """Print one check's documentation."""
    from kubediag.checks.base import all_checks, find_check
    from kubediag.model import ExitCode

    chk = find_check(check_id) or next((c for c in all_checks() if c.category.value == check_id.lower()), None)
    if chk is None:
        _err(f"unknown check {check_id!r}; `kubediag checks` lists them")
        _exit(ExitCode.USAGE)
    sys.stdout.write(chk.docs_markdown())


@app.command("audit")
def audit_cmd(
    all_namespaces: Annotated[
        bool, typer.Option("-A", "--all-namespaces", help="Every namespace (one cluster-wide LIST per kind).")
    ] = False,
    namespaces: Annotated[
        list[str] | None,
        typer.Option(
            "-n",
            "--namespace",
            help="Namespace to audit; repeat for several (default: the context's).",
            autocompletion=complete.namespaces,
        ),
    ] = None,
    selector: Annotated[
        str | None, typer.Option("-l", "--selector", help="Only Services with these labels (kubectl syntax).")
    ] = None,
    exclude_namespaces: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude-namespace",
            help="Skip the Services of this namespace; repeatable.",
            autocompletion=complete.namespaces,
        ),
    ] = None,
    context: ContextOpt = None,
    kubeconfig: KubeconfigOpt = None,
    output: Annotated[
        AuditOutput,
        typer.Option(
            "-o",
            "--output",
            help="text | json | jsonl (one Service per line) | markdown | junit | prometheus (metrics for the "
            "node-exporter textfile collector).",
        ),
    ] = AuditOutput.text,
    pushgateway: Annotated[
        str | None,
        typer.Option(
            "--pushgateway",
            metavar="URL",
            help="Also push the run's metrics to this Prometheus Pushgateway (job kubediag, grouped by "
            "--cluster-name), replacing the cluster's previous push.",
        ),
    ] = None,
    cluster_name: Annotated[
        str | None,
        typer.Option(
            "--cluster-name", metavar="NAME", help="The Pushgateway group (label cluster) of this cluster's audits."
        ),
    ] = None,
    fail_on: FailOnOpt = FailOn.critical,
    timeout: TimeoutOpt = 120.0,
    page_size: Annotated[
        int, typer.Option("--page-size", min=10, max=5000, help="Items per LIST page (limit + continue).")
    ] = 500,
    probe: ProbeOpt = False,
    probe_sample: ProbeSampleOpt = 5,
    probe_max: Annotated[
        int,
        typer.Option("--probe-max", min=1, max=1000, help="With --probe: endpoints probed in total (a global cap)."),
    ] = 50,
    debug: DebugOpt = False,
) -> None:
    """Diagnose every Service in scope with the svc chain: summary, cluster-wide findings, the unhealthy ones.

    Exit code as for svc, on the worst Service: 4 if any status is unknown, 1 on a finding at or above
    --fail-on, else 0.
    """

    def run() -> None:
        started = time.monotonic()
        if all_namespaces and namespaces:
            raise UsageError("-A/--all-namespaces and -n/--namespace exclude each other")
        _validate_push(pushgateway, cluster_name)
        for ns in [*(namespaces or []), *(exclude_namespaces or [])]:
            _validate_namespace(ns)
        from kubediag import audit

        if selector is not None and (problem := audit.label_selector_error(selector)):
            raise UsageError(problem)
        import datetime
        from concurrent.futures import ThreadPoolExecutor

        from kubediag.gather import Client, gather_scope
        from kubediag.render.progress import Progress

        client = Client(kubeconfig=kubeconfig, context=context, timeout=timeout)
        scope_ns = None if all_namespaces else tuple(dict.fromkeys(namespaces or [client.default_namespace]))
        scope = audit.Scope(scope_ns, frozenset(exclude_namespaces or ()), selector)
        generated_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            with Progress(sys.stderr) as progress, ThreadPoolExecutor(1) as side:
                version = side.submit(client.version)
                with _gc_paused():
                    data = gather_scope(
                        client,
                        scope.namespaces,
                        page=page_size,
                        label_selector=selector,
                        progress=progress.on_page,
                    )
                if probe:
                    import dataclasses

                    from kubediag.gather import probe_scope

                    plane = probe_scope(
                        client, data, audit.services_in_scope(data, scope), probe_sample, probe_max
                    )
                    data = dataclasses.replace(data, data_plane=plane)
                progress.start_diagnosis(len(audit.services_in_scope(data, scope)))
                with _gc_paused():  # the reports are built and kept: nothing for the cycle collector to find
                    result = audit.run(
                        data,
                        scope,
                        server=client.server,
                        version=version.result(),
                        generated_at=generated_at,
                        on_service=progress.on_service,
                    )
        finally:
            if debug:
                _debug_log(client)
        known = {n.metadata.name for n in data.namespaces}
        for ns in scope.namespaces or ():
            if data.namespaces and ns not in known:
                _err(f"warning: namespace {ns} does not exist")
        if result.incomplete and output is not AuditOutput.text:
            _err(
                "warning: audit incomplete: "
                + "; ".join(u.describe() for u in result.unavailable)
                + " (the checks needing them are skipped)"
            )
        stats = None
        if output is AuditOutput.prometheus or pushgateway:
            from kubediag.render.prometheus import RunStats

            stats = RunStats(time.monotonic() - started, len(client.log.entries), time.time())
        with _gc_paused():  # the same for the output's dicts: built, written, then the process ends
            emit_audit(result, output, fail_on, stats)
        if pushgateway and cluster_name and stats is not None:
            _push(pushgateway, cluster_name, result, stats, timeout)
        _output_written()
        _exit(audit.exit_code(result, _threshold(fail_on)))

    _run_guarded(debug, run)


_CLUSTER_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")


def _validate_push(url: str | None, cluster_name: str | None) -> None:
    """--pushgateway and --cluster-name, before any request."""
    if cluster_name is not None and not _CLUSTER_NAME.fullmatch(cluster_name):
        raise UsageError(
            f"invalid --cluster-name {cluster_name!r}: letters, digits, '.', '_' and '-' (at most 63)"
        )
    if url is None:
        if cluster_name is not None:
            raise UsageError("--cluster-name names the Pushgateway group: use it with --pushgateway URL")
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"invalid --pushgateway {url!r}: expected http(s)://HOST[:PORT][/PATH]")
    if cluster_name is None:
        raise UsageError("--pushgateway needs --cluster-name NAME (the group this cluster's metrics replace)")


def _push(url: str, cluster_name: str, result: Any, stats: Any, timeout: float) -> None:
    from kubediag.model import ExitCode
    from kubediag.render.prometheus import push

    try:
        push(url, cluster_name, result, stats, timeout=min(timeout, 30.0))
    except Exception as exc:
        reason = getattr(exc, "reason", None) or exc
        _err(f"pushgateway {url}: {reason}")
        _exit(ExitCode.CLUSTER)


def emit_audit(result: Any, output: AuditOutput, fail_on: FailOn, stats: Any = None) -> None:
    from kubediag.render import json as render_json
    from kubediag.render import junit, markdown, text

    if output is AuditOutput.json:
        for chunk in render_json.audit_chunks(result):  # piecewise: never the whole document in memory
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
    elif output is AuditOutput.jsonl:
        for line in render_json.audit_lines(result):
            sys.stdout.write(line + "\n")
    elif output is AuditOutput.markdown:
        sys.stdout.write(markdown.audit(result))
    elif output is AuditOutput.junit:
        sys.stdout.write(junit.audit(result, _threshold(fail_on)))
    elif output is AuditOutput.prometheus:
        from kubediag.render import prometheus

        sys.stdout.write(prometheus.audit(result, stats))
    else:
        text.audit(result, _stdout_console())


def _threshold(fail_on: FailOn) -> Severity:
    from kubediag.model import Severity

    return Severity.CRITICAL if fail_on is FailOn.critical else Severity.WARNING


class RbacOutput(enum.StrEnum):
    text = "text"
    yaml = "yaml"
    json = "json"


@app.command("rbac")
def rbac_cmd(
    output: Annotated[
        RbacOutput, typer.Option("-o", "--output", help="text (a table) | yaml | json (a ClusterRole or Role).")
    ] = RbacOutput.text,
    namespace: Annotated[
        str | None,
        typer.Option("-n", "--namespace", help="A Role for this namespace (audit -n) instead of a ClusterRole."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The role's name.")] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Print the extra rule --probe needs (create pods/portforward).")
    ] = False,
) -> None:
    """Print the exact RBAC rules kubediag needs (get and list only; generated from the kinds it reads)."""

    def run() -> None:
        if namespace is not None:
            _validate_namespace(namespace)
        role_name = name or ("kubediag-probe" if probe else "kubediag")
        if not is_dns1123_subdomain(role_name):
            raise UsageError(f"invalid role name {role_name!r}: must be a DNS-1123 subdomain")
        from kubediag import rbac

        if probe:
            if output is RbacOutput.yaml:
                sys.stdout.write(rbac.probe_to_yaml(namespace, role_name))
            elif output is RbacOutput.json:
                from kubediag.jsontext import dumps

                sys.stdout.write(dumps(rbac.probe_role(namespace, role_name), indent=2) + "\n")
            else:
                sys.stdout.write(rbac.probe_to_text(namespace))
            return
        name_ = role_name
        if output is RbacOutput.yaml:
            sys.stdout.write(rbac.to_yaml(namespace, name_))
        elif output is RbacOutput.json:
            sys.stdout.write(rbac.to_json(namespace, name_) + "\n")
        else:
            sys.stdout.write(rbac.to_text(namespace))

    _run_guarded(False, run)


@app.command("version")
def version_cmd() -> None:
    """Print kubediag's version."""
    sys.stdout.write(f"kubediag {__version__}\n")


PLUGIN_NAME = "kubectl-diag"  # on PATH, kubectl runs it as `kubectl diag`


def _prog_name() -> str:
    """`kubectl diag` when run as the kubectl plugin (usage lines then read as the user typed them)."""
    return "kubectl diag" if os.path.basename(sys.argv[0]).startswith(PLUGIN_NAME) else "kubediag"


def kubectl_complete() -> None:
    """`kubectl_complete-diag ARGS... INCOMPLETE`: completion of `kubectl diag` for kubectl >= 1.26, which
    calls this executable with the words typed so far and reads one candidate per line, then a cobra
    directive (`:4`: no file completion). Silent and bounded like the shell completion."""
    import io
    import shlex

    words = sys.argv[1:]
    if words and words[0] == "__complete":  # tolerate cobra's own protocol name
        words = words[1:]
    args, incomplete = words[:-1], (words[-1] if words else "")
    # the shell completion itself (typer's bash protocol), run in-process on the words kubectl passed
    line = shlex.join(["kubediag", *args]) + " " + (shlex.quote(incomplete) if incomplete else "")
    os.environ.update(
        {"_KUBEDIAG_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(args) + 1)}
    )
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            app(prog_name="kubediag")
    except SystemExit:
        pass
    except Exception:
        buf = io.StringIO()
    values = [v for v in buf.getvalue().splitlines() if v.strip()]
    sys.stdout.write("".join(f"{v}\n" for v in values) + ":4\n")


def _light_typer_help() -> None:
    """typer renders help with `typer.rich_utils`, whose top imports rich.markdown (markdown-it) and
    rich.traceback (pygments, rich.pretty) for markdown markup and pretty tracebacks: kubediag uses neither
    (rich markup, pretty_exceptions_enable=False), and they are a third of `--help`'s start-up. Import it
    with those two names standing in for the real classes (loaded on first use); the real modules stay
    importable as usual. A typer that imports more of them is simply imported in full when it renders."""
    if "typer.rich_utils" in sys.modules:
        return
    import types

    from kubediag.lazy import deferred_class, standing_in

    stubs: dict[str, types.ModuleType] = {}
    for module, name in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        stubs[module] = stub = types.ModuleType(module)
        setattr(stub, name, deferred_class(module, name))
    with standing_in(stubs), contextlib.suppress(ImportError):
        import typer.rich_utils  # noqa: F401


_UNSURE = object()


def _plain_value(descriptor: Any, value: Any, param: Any, ctx: Any) -> Any:
    """The value typer's coercion returns for `value`, when that is certain without it: None for a missing
    single value, an ASCII str as given, a choice as `coerce_cli_choice` picks it, a bool, or an int or finite
    float of the annotated type within the parameter's bounds. Else `_UNSURE`."""
    from enum import Enum

    from typer._param_types import coerce_cli_choice

    annotation, info = descriptor.annotation, descriptor.parameter_info
    if (
        descriptor.file_annotation is not None
        or info.parser is not None
        or getattr(info, "click_type", None) is not None
        or param.multiple
        or param.nargs != 1
    ):
        return _UNSURE
    if value is None:
        return None
    if annotation is str:
        return value if type(value) is str and value.isascii() else _UNSURE
    if annotation is bool:
        return value if type(value) is bool else _UNSURE
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return coerce_cli_choice(value, choices=list(annotation), case_sensitive=info.case_sensitive, ctx=ctx)
        except ValueError:
            return _UNSURE
    if annotation in (int, float) and type(value) is annotation and not info.clamp:
        if value != value or value in (float("inf"), float("-inf")):
            return _UNSURE
        if (info.min is None or value >= info.min) and (info.max is None or value <= info.max):
            return value
    return _UNSURE


def _light_typer_coercion() -> None:
    """typer (0.2x) coerces every parameter's value, defaults included, with a pydantic TypeAdapter built on
    first use: importing pydantic and building them is about 0.1 s of CPU (a `svc` takes 0.3 s) for kubediag's
    plain str, bool, choice and bounded-number options. Install a runtime parameter that returns
    such a value at once when typer's result is certain (`_plain_value`) and otherwise hands the value to
    typer's own (built then), so that every result and error message stays typer's. A typer without this
    layout is left alone."""
    try:
        from typer import core
        from typer._param_types import coerce_cli_choice  # noqa: F401
    except ImportError:
        return
    build: Any = getattr(core, "build_runtime_param", None)
    if build is None or getattr(build, "kubediag_light", False):
        return

    class LightRuntimeParam:
        def __init__(self, descriptor: Any) -> None:
            self.descriptor = descriptor
            self.real: Any = None

        def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                plain = _plain_value(self.descriptor, value, param, ctx)
            except Exception:
                plain = _UNSURE
            if plain is not _UNSURE:
                return plain
            if self.real is None:
                self.real = build(self.descriptor)
            return self.real.coerce(value, param=param, ctx=ctx)

    def light_build(descriptor: Any) -> Any:
        return LightRuntimeParam(descriptor)

    light_build.kubediag_light = True  # type: ignore[attr-defined]
    setattr(core, "build_runtime_param", light_build)  # noqa: B010 - typer does not export the name


_QUICK_EXIT = False  # audit and svc wrote everything: the process may end without the interpreter's teardown


def _output_written() -> None:
    global _QUICK_EXIT
    _QUICK_EXIT = True


def _quick_exit(code: int) -> None:
    """End the process after `audit` or `svc` wrote their output, without the interpreter's teardown: it
    frees every gathered object one by one (10,000 pods: about 0.1 s of CPU) and waits for idle worker
    threads. stdout and stderr are flushed and the atexit handlers run first (the client removes its
    temporary certificate files there); a flush that fails leaves the usual exit to report it."""
    import atexit

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    os._exit(code)


def _wants_help(args: list[str]) -> bool:
    return not args or "--help" in args or "-h" in args


def main() -> None:
    try:
        if _wants_help(sys.argv[1:]):
            _light_typer_help()
        else:
            _light_typer_coercion()
        app(prog_name=_prog_name())
    except Exception as exc:  # a last guard: one line, never a traceback without --debug
        if "--debug" in sys.argv:
            traceback.print_exc()
        _err(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")
        from kubediag.model import ExitCode

        sys.exit(int(ExitCode.UNKNOWN))
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        if isinstance(code, int) and code not in (0, 1, 2, 3, 4, 130):
            from kubediag.model import ExitCode

            code = int(ExitCode.USAGE)
        if _QUICK_EXIT and isinstance(code, int):
            _quick_exit(code)
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
