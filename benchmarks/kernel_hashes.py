"""Fingerprints of the generated kernel source of every model, for refactors
that must not change what the compiler emits.

    python benchmarks/kernel_hashes.py > before.txt
    ... refactor ...
    python benchmarks/kernel_hashes.py > after.txt && diff before.txt after.txt

Every `.mdl` under ../shared (beside the project root) and models/ goes
through the compiler's pure front half (parse -> lower -> order -> codegen);
Numba never runs. One line per model: its path, the sha256 of the kernel
source, and the sha256 of the rest of the kernel record (slots, parameters,
lookup tables, counts). A model the compiler rejects gets its error class and
the first line of the message instead, so a changed diagnosis shows too.
Paths are printed relative to the project root, so the output of two
checkouts side by side compares line by line.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _compile_model():
    # The pure half of `load` lives in one place; its module moved once.
    try:
        from smartspec_dsl.runtime.model import compile_model
    except ImportError:
        from smartspec_dsl.runtime import compile_model
    try:
        from smartspec_dsl.frontend.parse import read_model_text
    except ImportError:
        from smartspec_dsl.parse import read_model_text
    return compile_model, read_model_text


def model_paths() -> list[Path]:
    found = []
    for base in (ROOT.parent / "shared", ROOT / "models"):
        if base.is_dir():
            found += sorted(base.rglob("*.mdl"))
    return found


def fingerprint(path: Path, compile_model, read_model_text) -> str:
    rel = os.path.relpath(path, ROOT)
    try:
        _, _, kernel = compile_model(read_model_text(path), rel)
    except Exception as err:  # a rejected model is a result too
        first = (str(err).splitlines() or [""])[0]
        return f"{rel}\tERROR {type(err).__name__}: {first}"
    rest = hashlib.sha256()
    rest.update(repr((sorted(kernel.slots.items()), kernel.n_slots, kernel.params,
                      kernel.n_continuous, kernel.n_discrete, kernel.n_fixed_delays,
                      kernel.dynamic_control)).encode())
    rest.update(kernel.tables.tobytes())
    source = hashlib.sha256(kernel.source.encode()).hexdigest()
    return f"{rel}\t{source}\t{rest.hexdigest()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", help="write here instead of standard output")
    args = ap.parse_args(argv)
    os.chdir(ROOT)  # paths inside kernels and messages are relative to the root
    compile_model, read_model_text = _compile_model()
    lines = [fingerprint(p, compile_model, read_model_text) for p in model_paths()]
    text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
