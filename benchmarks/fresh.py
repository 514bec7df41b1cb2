"""Measuring in a fresh process, as a user meets smartspec: a new Python on its own kernel
cache, with no background compile competing for the cores. The benchmarks' children report
their measurements as one line (`report`), which the parent reads (`measure`) with the
child's wall time and CPU time (user + system, which the shared machine's other work does
not inflate) beside them.

    res = measure([__file__, "--child", path], cache_dir)       # in the parent
    report({"ok": True, "load_s": ...})                          # in the child
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MARK = "@@RESULT@@"
# through a small shell that forks (not execs) Python: Linux keeps the peak RSS of the
# exec'ing process in ru_maxrss, so a child exec'd straight from a big parent would report
# at least the parent's (";rc=$?; exit $rc" keeps the shell from exec'ing its last command)
FORKED = ("/bin/sh", "-c", '"$0" "$@"; rc=$?; exit $rc')


def report(result: dict) -> None:
    """The child's side: its measurements (JSON values) as the one line `measure` reads."""
    print(MARK + json.dumps(result), flush=True)


def measure(args: list, cache_dir, timeout: float = 1200, prefix: tuple = (), env: dict | None = None) -> dict:
    """Run `python ARGS` (behind `prefix`: `FORKED`, `taskset -c 0`) on the kernel cache
    `cache_dir` (this checkout and these benchmarks first on the path, bytecode as an install has it; `env`
    instead of this process's environment) and return what it reported, with `wall_s` and
    `cpu_s` (the whole process's) and `started` (the epoch time it was started at); or
    {"ok": False, "stage", "error"} when it timed out or reported nothing."""
    env = dict(os.environ if env is None else env, SMARTSPEC_CACHE_DIR=str(cache_dir),
               SMARTSPEC_BACKGROUND_COMPILE="0",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), str(HERE), os.environ.get("PYTHONPATH")) if p))
    env.pop("PYTHONDONTWRITEBYTECODE", None)      # an installed package has its bytecode
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started, t = time.time(), time.perf_counter()
    try:
        proc = subprocess.run([*prefix, sys.executable, *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "stage": "timeout", "error": f"timed out after {timeout:g} s"}
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            out = json.loads(line[len(MARK):])
            out.update(wall_s=wall, started=started,
                       cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
            return out
    return {"ok": False, "stage": "crash", "error": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-400:]}"}
