"""Model text never becomes code.

tests/data/injection/*.mdl are the teacup with Python code in every place a
modeller can type text: quoted variable and lookup names (with escaped quotes,
raw newlines, a line continuation), units, comments, brace comments, a group
header, the sketch, and numbers spelt in ways Python would not accept (0070,
1E+01, 180., .125, 3e1). Every payload would leave a file in the working
directory if it ever ran. Some variables are named like kernel identifiers
(v, np, math, lookup).

Each model is compiled and run with `smartspec_dsl.load` from an empty working
directory with a private cache; the directory must stay empty, the values must
be the teacup's, and the generated kernel may contain the model's names only
inside `#` comments.
"""
from __future__ import annotations

import ast
import builtins
import csv
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

import smartspec_dsl

from conftest import run_cli

DATA = Path(__file__).resolve().parent / "data" / "injection"
REPO = Path(__file__).resolve().parents[1]

# Fragments of the payloads: none may appear in the kernel outside comments.
PAYLOAD = ["pwned", "__import__", "system", "open(", "exec", "eval", "compile", "touch", "'os'"]

# The teacup with Euler steps of 0.125 and SAVEPER = TIME STEP: after n steps
# T = 70 + (180 - 70) (1 - 0.125/10)^n, and the heat loss is (T - 70)/10.
TIMES = np.arange(241) * 0.125
TEACUP = 70.0 + 110.0 * (1.0 - 0.125 / 10.0) ** np.arange(241)
HEAT_LOSS = (TEACUP - 70.0) / 10.0

CASES = {
    # column (found by a unique fragment of its name) -> expected values
    "injection": {
        "PWNED_NEWLINE": TEACUP,
        "PWNED_QUOTE": HEAT_LOSS,
        "PWNED_ROOM": np.full(241, 70.0),          # 0070
        "PWNED_NAME": np.full(241, 10.0),          # 1E+01
        "PWNED_EVAL": 1.0 + TIMES / 30.0,          # lookup (0,1)-(30,2) of Time
        "=v": np.full(241, 2.0),
        "=np": np.full(241, 6.0),                  # v * 3
        "=lookup": np.full(241, 0.5),
        "=math": np.full(241, 8.5),                # np + v + lookup
    },
    "injection_continuation": {
        "Teacup Temperature": TEACUP,
        "PWNED_CONTINUATION": HEAT_LOSS,
    },
}


def column(result, key: str) -> np.ndarray:
    if key.startswith("="):
        hits = [i for i, c in enumerate(result.columns) if c == key[1:]]
    else:
        hits = [i for i, c in enumerate(result.columns) if key in c]
    assert len(hits) == 1, (key, result.columns)
    return result.values[:, hits[0]]


def split_comments(source: str) -> tuple[str, list[tokenize.TokenInfo]]:
    """(the source with every # comment removed, the comment tokens)."""
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    comments = [t for t in tokens if t.type == tokenize.COMMENT]
    lines = source.splitlines(keepends=True)
    for t in sorted(comments, key=lambda t: t.start, reverse=True):
        row, col = t.start
        line = lines[row - 1]
        lines[row - 1] = line[:col] + line[col + len(t.string):]
    for t in tokens:
        if t.type != tokenize.COMMENT:
            for frag in PAYLOAD:
                assert frag not in t.string.lower(), f"'{frag}' outside a comment: {t}"
    return "".join(lines), comments


def unbound_names(code: str) -> set[str]:
    """Names the code reads but neither defines, imports nor gets from builtins."""
    tree = ast.parse(code)
    # module attributes every module has (the kernel reads __file__ to find its own cache)
    bound, used = set(dir(builtins)) | {"__file__", "__name__"}, set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, ast.Store) else used).add(node.id)
    return used - bound


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def no_markers(*roots: Path) -> list[Path]:
    return [p for root in roots for p in root.rglob("*") if "pwned" in p.name.lower()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_text_is_never_executed(case, workdir, tmp_path):
    model_path = DATA / f"{case}.mdl"
    cache = tmp_path / "cache"
    model = smartspec_dsl.load(model_path, cache_dir=cache)
    result = model.run()

    # Nothing ran: the working directory is as empty as we made it.
    assert list(workdir.iterdir()) == []
    assert no_markers(tmp_path, DATA, REPO / "tests") == []

    # The run is the teacup's.
    np.testing.assert_allclose(result.time, TIMES, rtol=0, atol=1e-12)
    for key, want in CASES[case].items():
        np.testing.assert_allclose(column(result, key), want, rtol=1e-12, atol=1e-12, err_msg=key)
    assert no_markers(tmp_path, DATA, REPO / "tests") == []

    # The kernel: model text only in comments.
    kernels = list(cache.glob("*/kernel.py"))
    assert len(kernels) == 1, kernels
    source = kernels[0].read_text(encoding="utf-8")
    code, comments = split_comments(source)
    assert comments, "expected the kernel to name its variables in comments"
    assert not unbound_names(code), unbound_names(code)
    names = set()
    for key, var in model.ir.variables.items():
        names |= {key, var.display}
    for name in names:
        if name.isidentifier():
            continue  # v, np, math, lookup: covered by unbound_names (the kernel's own v is fine)
        for spelling in {name, name.lower(), name.strip('"')}:
            assert spelling not in code, f"model name {spelling!r} in the kernel outside a comment"
    for number_text in ("0070", "1E+01", "3e1"):
        assert number_text not in code
    # A comment is one line: nothing after a name may start a new line of code.
    for t in comments:
        assert "\n" not in t.string and "\r" not in t.string
        assert t.start[0] == t.end[0]


def test_cli_output_with_hostile_names_is_well_formed_csv(workdir, tmp_path):
    """Names reach the output header: one header row (quoted as needed), no lost columns."""
    out = tmp_path / "out.csv"
    proc = run_cli("run", DATA / "injection.mdl", "-o", out, cwd=workdir,
                   env={"SMARTSPEC_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    assert list(workdir.iterdir()) == []
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    assert len(rows) == 1 + 241, (len(rows), rows[:3])
    assert all(len(r) == len(header) for r in rows), [len(r) for r in rows[:3]]
    teacup = [i for i, c in enumerate(header) if "PWNED_NEWLINE" in c]
    assert len(teacup) == 1, header
    assert re.fullmatch(r"Teacup\s+__import__\('os'\)\.system\('touch PWNED_NEWLINE'\)\s+Temperature",
                        header[teacup[0]]), header[teacup[0]]
    np.testing.assert_allclose([float(r[teacup[0]]) for r in rows[1:]], TEACUP, rtol=1e-12)
    assert no_markers(tmp_path, DATA) == []
