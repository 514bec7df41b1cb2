"""Fingerprints of the generated kernel source of every model, for refactors
that must not change what the compiler emits.

    python benchmarks/kernel_hashes.py > before.txt
    ... refactor ...
    python benchmarks/kernel_hashes.py > after.txt && diff before.txt after.txt

Every `.mdl` under ../shared (beside the project root) and models/ goes
through the compiler's pure front half (parse -> lower -> order -> codegen);
Numba never runs. One line per model: its path, the sha256 of the kernel
source, the sha256 of the same source with the module path of the kernel
library in its import lines replaced by a placeholder (so moving the library
inside the package leaves it unchanged, while any change to the imported
names or to the code itself shows), and the sha256 of the rest of the kernel
record (slots, parameters, lookup tables, counts). A model the compiler rejects gets its error class and
the first line of the message instead, so a changed diagnosis shows too.
Paths are printed relative to the project root, so the output of two
checkouts side by side compares line by line.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LIBRARY_IMPORT = re.compile(r"^from smartspec_dsl(?:\.\w+)+ import", re.M)


def _compile_model():
    # The pure half of `load` lives in one place; its module moved more than once.
    try:
        from smartspec_dsl.runtime import compile_model
    except ImportError:
        from smartspec_dsl.runtime.model import compile_model
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


def fingerprint(path: Path, compile_model, read_model_text, dump: Path | None = None) -> str:
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
    body = _LIBRARY_IMPORT.sub("from <kernel library> import", kernel.source)
    if dump is not None:
        target = dump / (rel.replace("../", "").replace("/", "__") + ".py")
        target.write_text(kernel.source)
    return f"{rel}\t{source}\t{hashlib.sha256(body.encode()).hexdigest()}\t{rest.hexdigest()}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", help="write here instead of standard output")
    ap.add_argument("--dump", help="also write every kernel's source into this folder")
    args = ap.parse_args(argv)
    dump = Path(args.dump).resolve() if args.dump else None
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)  # paths inside kernels and messages are relative to the root
    compile_model, read_model_text = _compile_model()
    lines = [fingerprint(p, compile_model, read_model_text, dump) for p in model_paths()]
    text = "\n".join(lines) + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
