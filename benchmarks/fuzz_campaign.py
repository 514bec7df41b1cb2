"""Fuzzing campaign: N seeded mutants of every .mdl in ../shared through parse,
lowering, ordering and code generation, in parallel worker processes, each
case under a time limit. Prints a summary (and writes every finding to a JSON
lines file); the result goes in benchmarks/RESULTS.md.

    python benchmarks/fuzz_campaign.py -n 100000 --jobs 2
    python benchmarks/fuzz_campaign.py --show 1234        # one mutant's text and outcome

A case's time limit is --time-limit seconds, or SLOWDOWN times what the
unmutated model takes in the same worker if that is more (on a machine shared
with other work the large models alone can take tens of seconds; a hang is a
mutant far slower than its model, or endless). A worker answers each case
itself (SIGALRM at the limit); if it does not answer within twice that (stuck
in C code), it is killed, the case is counted as a hang, and a new worker
carries on.
"""
from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fuzz_mutants import OUTCOMES, check_text, model_files, mutant  # noqa: E402


SLOWDOWN = 5


def _shared() -> Path:
    return ROOT.parent / "shared"


def worker(seed: int, start: int, stop: int, step: int, limit: float) -> None:
    """Runs cases start, start+step, ... < stop; one JSON line per case on stdout."""
    models = model_files(_shared())
    cache: dict = {}
    baseline: dict = {}
    out = sys.stdout
    for i in range(start, stop, step):
        path, text = mutant(models, seed, i, cache)
        if path not in baseline:    # the model itself, on this machine now
            started = time.perf_counter()
            check_text(cache[path], str(path), 600)
            baseline[path] = time.perf_counter() - started
        case_limit = max(limit, SLOWDOWN * baseline[path])
        out.write(json.dumps({"start": i, "limit": case_limit}) + "\n")
        out.flush()
        outcome, detail = check_text(text, str(path), case_limit)
        out.write(json.dumps({"i": i, "outcome": outcome, "model": str(path), "detail": detail}) + "\n")
        out.flush()


def _spawn(seed, start, stop, step, limit):
    cmd = [sys.executable, __file__, "--worker", f"{seed},{start},{stop},{step},{limit}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env, bufsize=1)


def campaign(n: int, seed: int, jobs: int, limit: float, findings: Path | None, quiet: bool = False):
    counts: Counter = Counter()
    found = open(findings, "w") if findings else None
    # Worker j takes the cases j, j + jobs, ...; a killed worker restarts after its stuck case.
    procs = {j: _spawn(seed, j, n, jobs, limit) for j in range(jobs)}
    current = {j: None for j in range(jobs)}
    since = {j: time.monotonic() for j in range(jobs)}
    limits = {j: limit for j in range(jobs)}
    started = time.monotonic()
    done = 0
    while procs:
        ready, _, _ = select.select([p.stdout for p in procs.values()], [], [], 0.5)
        now = time.monotonic()
        for j, p in list(procs.items()):
            if p.stdout in ready:
                line = p.stdout.readline()
                if not line:                      # worker finished (or died)
                    p.wait()
                    if current[j] is not None:    # died inside a case: a crash of the process
                        rec = {"i": current[j], "outcome": "crash", "detail": f"worker exit {p.returncode}"}
                        counts["crash"] += 1
                        done += 1
                        if found:
                            found.write(json.dumps(rec) + "\n")
                        procs[j] = _spawn(seed, current[j] + jobs, n, jobs, limit)
                        current[j], since[j] = None, now
                    else:
                        del procs[j]
                    continue
                rec = json.loads(line)
                if "start" in rec:
                    current[j], since[j], limits[j] = rec["start"], now, rec["limit"]
                    continue
                current[j] = None
                counts[rec["outcome"]] += 1
                done += 1
                if found and rec["outcome"] not in ("accepted", "located"):
                    found.write(json.dumps(rec) + "\n")
                    found.flush()
            elif current[j] is not None and now - since[j] > 2 * limits[j] + 5:
                p.kill()
                p.wait()
                counts["hang"] += 1
                done += 1
                if found:
                    found.write(json.dumps({"i": current[j], "outcome": "hang",
                                            "detail": "killed from outside"}) + "\n")
                procs[j] = _spawn(seed, current[j] + jobs, n, jobs, limit)
                current[j], since[j] = None, now
        if not quiet and sys.stderr.isatty():
            print(f"\r{done}/{n} " + " ".join(f"{k} {counts[k]}" for k in OUTCOMES),
                  end="", file=sys.stderr, flush=True)
    if found:
        found.close()
    secs = time.monotonic() - started
    return counts, secs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=100_000, help="number of mutants (default 100000)")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--time-limit", type=float, default=10.0, help="seconds per case (default 10)")
    ap.add_argument("--findings", default="fuzz-findings.jsonl",
                    help="JSON lines file for every case that is not accepted or located")
    ap.add_argument("--show", type=int, metavar="I", help="print mutant I and its outcome")
    ap.add_argument("--results", metavar="RESULTS.md", help="write the summary into this file's "
                    "fuzzing section (e.g. benchmarks/RESULTS.md)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        seed, start, stop, step, limit = args.worker.split(",")
        worker(int(seed), int(start), int(stop), int(step), float(limit))
        return 0
    if not _shared().is_dir():
        print(f"reference material not found: {_shared()}", file=sys.stderr)
        return 2
    if args.show is not None:
        path, text = mutant(model_files(_shared()), args.seed, args.show)
        print(text)
        print(f"--- mutant {args.show} of {path}:", *check_text(text, str(path), args.time_limit),
              file=sys.stderr)
        return 0
    head = _git_head()   # the code the workers run: taken now, not when the campaign ends
    counts, secs = campaign(args.n, args.seed, args.jobs, args.time_limit, Path(args.findings))
    summary = (f"{args.n:,} mutants (seed {args.seed}, {args.jobs} jobs, {args.time_limit:g} s limit per case) "
               f"in {secs:.0f} s: " + ", ".join(f"{k} {counts[k]:,}" for k in OUTCOMES))
    print()
    print(summary)
    if args.results:
        write_results(Path(args.results), args, counts, secs, head)
    return 0 if counts["crash"] == counts["hang"] == counts["unlocated"] == 0 else 1


def _git_head() -> str:
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True, cwd=ROOT).stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=ROOT).stdout.strip() or "?"
    return head + (" with uncommitted changes" if dirty else "")


def write_results(path: Path, args, counts, secs, head: str) -> None:
    """Replace (or add) this campaign's section of RESULTS.md, between its markers."""
    import datetime
    import platform
    n_models = len(model_files(_shared()))
    total = sum(counts.values())
    rows = "\n".join(f"| {k} | {counts[k]:,} | {100 * counts[k] / max(total, 1):.1f}% |" for k in OUTCOMES)
    section = f"""<!-- fuzz campaign -->
## Fuzzing campaign

Produced by `python benchmarks/fuzz_campaign.py -n {args.n} --seed {args.seed} --jobs {args.jobs} --time-limit {args.time_limit:g} --results benchmarks/RESULTS.md` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at git {head} ({platform.python_version()}, {os.cpu_count()} CPUs, shared with other work), in {secs:,.0f} s.

{args.n:,} seeded mutants of the {n_models} `.mdl` files of `../shared` (lines and tokens deleted, duplicated and swapped, brackets unbalanced, odd bytes, huge and tiny numbers, nesting thousands deep, truncation; one to three edits each), each through parse, external data, subscripts, lowering, ordering, code generation and Python's `compile` of the generated kernel (not Numba), with a time limit per case ({args.time_limit:g} s, or {SLOWDOWN} times what the unmutated model takes if that is more). *located*: a ModelError starting FILE:LINE:COLUMN; *accepted*: a kernel was generated; *unlocated*, *crash* (any other exception: a traceback) and *hang* are the failures. Mutant I is reproduced with `python benchmarks/fuzz_campaign.py --seed {args.seed} --show I`.

| outcome | mutants | share |
|---|---|---|
{rows}
<!-- /fuzz campaign -->"""
    text = path.read_text() if path.exists() else ""
    start, end = text.find("<!-- fuzz campaign -->"), text.find("<!-- /fuzz campaign -->")
    if 0 <= start < end:
        text = text[:start] + section + text[end + len("<!-- /fuzz campaign -->"):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
