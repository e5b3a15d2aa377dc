"""Memory of the decoded snapshot, per kind: what `audit -A` holds once everything is gathered.

    python bench/memory.py [--size default] [--kinds pods,endpointslices] [--top 12]
    python bench/memory.py --live        # RSS after each stage of `audit -A -o json`, in-process (KUBECONFIG)

Offline (default): the size's plan is built in-process (bench/synthetic.py), each kind is encoded as a LIST
body and decoded with the gatherer's own `kubediag.kinds.decode_list`, and the decoded objects are walked:
per object of the kind, the bytes (`sys.getsizeof`, every Python object counted once however many
references it has: shared strings and empty defaults count once) and the number of Python objects by type;
also the growth of `tracemalloc`'s traced memory across the decode (what the allocator really handed out).
The snapshot's total is the sum over the kinds; its bytes per pod, times the pods of a size, estimates that
size (the other kinds grow with the pods).

`--live`: `gather_scope` + `audit.run` + the JSON rendering as `audit -A -o json` runs them, printing the
process's RSS and its peak (VmHWM) after each stage, with wall and CPU seconds.

`--audit`: the same stages without a cluster, on the size's plan: the LIST pages (500 items, as the gatherer
asks) are written to a temporary directory, then a fresh process imports the CLI, decodes them one by one with
`decode_list`, runs `audit.run` and writes the JSON document to /dev/null, printing its RSS per stage. No API
server shares the machine, no page is in flight and nothing is gathered concurrently. The child imports the
official client's API modules as `gather.Client` does (about 25 MiB), so the figure here is that of a live
run less the pages in flight: at xl, on the bench cluster's saved objects served by a local HTTP server, the
live CLI peaked 4 MiB above it (1d0a4ce: 468 against 464 MiB; compare both at the same commit). The plan's
objects are a little smaller than the cluster's (the seeded pods also carry zone and region labels).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))  # seed, synthetic; kubediag as installed (or PYTHONPATH)


def walk(roots: Any, seen: set[int]) -> tuple[Counter[str], Counter[str]]:
    """(count, bytes) per type name of every object reachable from `roots` not already in `seen`."""
    count: Counter[str] = Counter()
    size: Counter[str] = Counter()
    stack = list(roots)
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        name = type(o).__name__ if not hasattr(o, "__struct_fields__") else "Struct"
        count[name] += 1
        size[name] += sys.getsizeof(o)
        if isinstance(o, str | int | float | bool) or o is None:
            continue
        if isinstance(o, dict):
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, list | tuple):
            stack.extend(o)
        elif hasattr(o, "__struct_fields__"):
            stack.extend(getattr(o, f) for f in o.__struct_fields__)
    return count, size


def offline(size_name: str, kinds: list[str], top: int) -> None:
    from seed import SIZES, make_plan
    from synthetic import synthetic_objects

    from kubediag.kinds import SPECS, decode_list
    from kubediag.model import Kind

    t = time.perf_counter()
    objs = synthetic_objects(make_plan(SIZES[size_name]))
    print(f"size {size_name}: built in {time.perf_counter() - t:.1f}s")
    bodies: dict[Kind, bytes] = {}
    for kind, spec in SPECS.items():
        items = objs.get(kind.value, [])
        if not items:
            continue
        bodies[kind] = msgspec.json.encode(
            {
                "apiVersion": f"{spec.group}/{spec.version}" if spec.group else spec.version,
                "kind": f"{spec.kind}List",
                "metadata": {"resourceVersion": "1"},
                "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items],
            }
        )
    n_pods = len(objs["pods"])
    del objs
    gc.collect()
    seen: set[int] = set()
    store: dict[Kind, list[Any]] = {}
    total_bytes = total_traced = 0
    print(f"{'kind':16s} {'objects':>8s} {'JSON B/obj':>10s} {'B/obj':>8s} {'traced B/obj':>12s} {'objs/obj':>8s} {'MB':>7s}")
    for kind, body in bodies.items():
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        t = time.perf_counter()
        items, _ = decode_list(kind, body)
        dt = time.perf_counter() - t
        traced = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        store[kind] = items
        count, size = walk(items, seen)
        n = len(items)
        b = sum(size.values())
        total_bytes += b
        total_traced += traced
        print(
            f"{kind.value:16s} {n:8d} {len(body) / n:10.0f} {b / n:8.0f} {traced / n:12.0f} "
            f"{sum(count.values()) / n:8.1f} {b / 1e6:7.1f}  (decode {dt:.3f}s)"
        )
        if kind.value in kinds:
            for name, s in size.most_common(top):
                print(f"    {name:24s} {count[name] / n:7.2f}/obj {s / n:8.1f} B/obj")
    print(
        f"{'total':16s} {'':8s} {'':10s} {'':8s} {'':12s} {'':8s} {total_bytes / 1e6:7.1f}  "
        f"traced {total_traced / 1e6:.1f} MB; per pod: {total_bytes / n_pods:.0f} B walked, "
        f"{total_traced / n_pods:.0f} B traced ({n_pods} pods)"
    )
    for est in (150_000,):
        print(f"  x {est} pods: {total_traced / n_pods * est / 2**20:.0f} MiB traced")


def live() -> None:
    t0, c0 = time.perf_counter(), time.process_time()

    def mark(what: str) -> None:
        _mark(what, t0, c0)

    mark("start")
    from kubediag import audit, cli
    from kubediag.gather import Client, gather_scope

    mark("imports")
    client = Client(kubeconfig=None, context=None, timeout=60)
    scope = audit.Scope(None, frozenset(), None)
    with cli._gc_paused():
        data = gather_scope(client, None)
    mark("gathered")
    result = audit.run(data, scope, server=client.server)
    mark("diagnosed")
    cli.emit_audit(result, cli.AuditOutput.json, cli.FailOn.critical)
    mark("rendered")


def _mark(what: str, t0: float, c0: float) -> None:
    d = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                d[k] = int(v.split()[0]) / 1024
    print(
        f"{what:10s} RSS {d['VmRSS']:5.0f} MiB  peak {d['VmHWM']:5.0f} MiB  "
        f"wall {time.perf_counter() - t0:6.2f}s  cpu {time.process_time() - c0:6.2f}s",
        file=sys.stderr,
    )


def audit_offline(size_name: str) -> None:
    import subprocess
    import tempfile

    from seed import SIZES, make_plan
    from synthetic import synthetic_objects

    from kubediag.kinds import SPECS

    t = time.perf_counter()
    objs = synthetic_objects(make_plan(SIZES[size_name]))
    with tempfile.TemporaryDirectory(prefix="kubediag-mem-") as tmp:
        n = 0
        for kind, spec in SPECS.items():
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objs.get(kind.value, [])]
            for i in range(0, max(len(items), 1), 500):
                doc = {
                    "apiVersion": f"{spec.group}/{spec.version}" if spec.group else spec.version,
                    "kind": f"{spec.kind}List",
                    "metadata": {"resourceVersion": "1"},
                    "items": items[i : i + 500],
                }
                Path(tmp, f"{kind.value}.{i // 500:05d}.json").write_bytes(msgspec.json.encode(doc))
                n += 1
        pods = len(objs["pods"])
        del objs
        print(f"size {size_name}: {pods} pods, {n} pages written in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        subprocess.run([sys.executable, __file__, "--audit-child", tmp], check=True)


def audit_child(tmp: str) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    _mark("start", t0, c0)
    # what gather.Client loads (about 25 MiB of generated API modules): a live run holds them too
    import kubernetes.client  # noqa: F401

    from kubediag import audit, cli
    from kubediag.gather import warm
    from kubediag.kinds import SPECS, decode_list
    from kubediag.model import Kind
    from kubediag.snapshot import ClusterData

    _mark("imports", t0, c0)
    print(f"kubediag from {Path(cli.__file__).parent}", file=sys.stderr)
    warm()
    store: dict[Kind, list[Any]] = {kind: [] for kind in SPECS}
    with cli._gc_paused():
        for page in sorted(Path(tmp).iterdir()):
            kind = Kind(page.name.split(".")[0])
            store[kind] += decode_list(kind, page.read_bytes())[0]
    data = ClusterData(
        objects={k: tuple(v) for k, v in store.items()},
        read=frozenset(store),
        unavailable={},
        server="synthetic",
        services_complete=None,
    )
    del store
    _mark("decoded", t0, c0)
    result = audit.run(data, audit.Scope(None, frozenset(), None))
    _mark("diagnosed", t0, c0)
    with open(os.devnull, "w") as out:
        stdout, sys.stdout = sys.stdout, out
        try:
            cli.emit_audit(result, cli.AuditOutput.json, cli.FailOn.critical)
        finally:
            sys.stdout = stdout
    _mark("rendered", t0, c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="default")
    ap.add_argument("--kinds", default="pods", help="kinds whose objects are broken down by type")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--live", action="store_true", help="RSS per stage of audit -A -o json on KUBECONFIG's cluster")
    ap.add_argument("--audit", action="store_true", help="RSS per stage of an offline audit of the size's plan")
    ap.add_argument("--audit-child", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.audit_child:
        audit_child(args.audit_child)
    elif args.audit:
        audit_offline(args.size)
    elif args.live:
        live()
    else:
        offline(args.size, args.kinds.split(","), args.top)


if __name__ == "__main__":
    main()
