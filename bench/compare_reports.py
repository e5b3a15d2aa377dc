"""Are the reports identical before and after a change? `diagnose()` of kubediag at a git ref against the
working tree, on synthetic snapshots (bench/synthetic.py) of several sizes and seeds. No cluster.

  python bench/compare_reports.py                          # base: the merge-base with main
  python bench/compare_reports.py --base 0a17f36 --sizes small,default --seeds 0,1,2

Per snapshot: every Service is diagnosed as `audit -A` does, and every 7th also with a client pod (`svc
--from`: the same namespace or another one, chosen by the seed). Seed "plan" is the benchmark's plan as
seeded; numeric seeds add the variety of bench/synthetic.py (extra policies, namespace labels, pod states,
shuffled order). What is compared: every Report field (status, root cause, each check's outcome, reason,
findings with evidence and remediation, notes) and the audit JSON (summary and cluster checks) minus
`generated_at`. Each side runs in its own process; exit 1 on any difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def dump(size: str, seed: str, out: Path) -> None:
    """In this process (kubediag from sys.path): diagnose every Service, write one JSON line each."""
    sys.path.insert(0, str(HERE))
    from seed import SIZES, make_plan
    from synthetic import synthetic_data

    import kubediag
    from kubediag import audit
    from kubediag.checks.base import ordered_checks
    from kubediag.engine import diagnose
    from kubediag.snapshot import ClientRef, Snapshot, name_of, ns_of

    plan = make_plan(SIZES[size])
    variety = seed != "plan"
    data = synthetic_data(plan, int(seed) if variety else None, variety=variety)
    rng = random.Random(f"clients-{seed}")
    pods = sorted(data.pods, key=lambda p: (ns_of(p), name_of(p)))
    chain = ordered_checks()
    services = sorted(data.services, key=lambda s: (ns_of(s), name_of(s)))
    start = time.process_time()
    with out.open("w") as fh:
        fh.write(json.dumps({"kubediag": kubediag.__file__}) + "\n")
        for i, svc in enumerate(services):
            snaps = [Snapshot(ns_of(svc), name_of(svc), data)]
            if i % 7 == 0 and pods:
                same = [p for p in pods if ns_of(p) == ns_of(svc)]
                client = rng.choice(same if same and rng.random() < 0.5 else pods)
                snaps.append(
                    Snapshot(ns_of(svc), name_of(svc), data, ClientRef(ns_of(client), name_of(client)))
                )
            for snap in snaps:
                rep = dataclasses.asdict(diagnose(snap, chain))
                rep["client"] = dataclasses.asdict(snap.client) if snap.client else None
                fh.write(json.dumps(rep, sort_keys=True, default=str) + "\n")
        result = audit.run(data, audit.Scope(None))
        try:  # the render package (after the rendering moved out of audit.py)
            from kubediag.render.json import audit_dict
        except ImportError:  # an older base
            audit_dict = audit.audit_dict
        doc = audit_dict(result)
        doc.pop("generated_at", None)
        fh.write(json.dumps(doc, sort_keys=True, default=str) + "\n")
    sys.stderr.write(
        f"  {kubediag.__file__}: {size}/{seed} diagnosed in {time.process_time() - start:.2f}s CPU\n"
    )


def run_side(src: Path, size: str, seed: str, out: Path) -> None:
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    subprocess.run(
        [sys.executable, str(Path(__file__)), "--dump", str(out), "--size", size, "--seed", seed],
        env=env,
        check=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="", help="git ref of the 'before' side (default: merge-base with main)")
    ap.add_argument("--sizes", default="small,default")
    ap.add_argument(
        "--seeds", default="plan,0,1,2", help="'plan' = the benchmark's plan; numbers add variety"
    )
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--seed", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.dump:
        dump(args.size, args.seed, args.dump)
        return 0
    base = (
        args.base
        or subprocess.run(
            ["git", "-C", str(REPO), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    differ = 0
    with tempfile.TemporaryDirectory(prefix="kubediag-base-") as tmp:
        before_src = Path(tmp) / "src"
        before_src.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", base, "kubediag"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(before_src)], input=archive, check=True)
        print(f"before: kubediag at {base}; after: the working tree {REPO}")
        for size in args.sizes.split(","):
            for seed in args.seeds.split(","):
                a, b = Path(tmp) / f"a-{size}-{seed}.jsonl", Path(tmp) / f"b-{size}-{seed}.jsonl"
                run_side(before_src, size, seed, a)
                run_side(REPO, size, seed, b)
                la, lb = a.read_text().splitlines(), b.read_text().splitlines()
                assert str(before_src) in la[0] and str(REPO) in lb[0], (la[0], lb[0])
                la, lb = la[1:], lb[1:]
                diffs = [i for i, (x, y) in enumerate(zip(la, lb, strict=False)) if x != y]
                digest = hashlib.sha256("\n".join(lb).encode()).hexdigest()[:12]
                same = len(la) == len(lb) and not diffs
                print(
                    f"{size:>8} seed {seed:>4}: {len(lb) - 1} reports + audit JSON, "
                    f"{'identical' if same else f'{len(diffs)} DIFFER'} (sha256 {digest})"
                )
                if not same:
                    differ += 1
                    for i in diffs[:3]:
                        x, y = json.loads(la[i]), json.loads(lb[i])
                        print(f"  before: {json.dumps(x)[:2000]}\n  after:  {json.dumps(y)[:2000]}")
    print("identical" if not differ else f"{differ} snapshot(s) differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
