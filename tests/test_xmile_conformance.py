"""Conformance of the XMILE front end: every XMILE/Stella file of the SDXorg
test-models suite runs and is compared with the case's canonical output (the
same output, checker and tolerance as the Vensim conformance test).

Asserts that every file in tests/conformance/xmile_passing.txt passes (a
ratchet: files only join that list) and that every failure is explained here.
With SMARTSPEC_WRITE_STATUS=1 it also rewrites tests/conformance/xmile_status.md
(every file, pass/fail and why). A case is counted the way the acceptance
checker (compare.py --model-ext .xmile,.stmx,.itmx) picks its one file; the
other XMILE files of a case (SIR_reciprocal-dt, the lookups variants) run too."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import ROOT, SHARED
from test_conformance import RTOL, SCALE_TOL, check_case

SUITE = SHARED / "test-models"
HERE = ROOT / "tests" / "conformance"
XMILE_SUFFIXES = (".xmile", ".stmx", ".itmx")

_INCOMPLETE = ("the file is incomplete: the converter that wrote it put '???' where the Vensim "
               "model lists the values")
_NO_MACRO = ("the file calls a Vensim macro it does not define: the converter that wrote it dropped "
             "the macro (XMILE's <macro>, section 4.8, is read, but the file has none), so the model "
             "cannot be run from it; the case's .mdl converted to XMILE with its macro passes")
# Why the remaining files fail; status prints this beside the error.
EXPLAINED = {
    "tests/macro_expression/test_macro_expression.xmile": _NO_MACRO,
    "tests/macro_multi_expression/test_macro_multi_expression.xmile": _NO_MACRO,
    "tests/macro_multi_macros/test_macro_multi_macros.xmile": _NO_MACRO,
    "tests/macro_stock/test_macro_stock.xmile": _NO_MACRO,
    "tests/subscript_1d_arrays/test_subscript_1d_arrays.xmile": _INCOMPLETE,
    "tests/subscript_constant_call/test_subscript_constant_call.xmile": _INCOMPLETE,
    "tests/subscript_multiples/test_multiple_subscripts.xmile": _INCOMPLETE,
    "tests/subscript_subranges/test_subscript_subrange.xmile": _INCOMPLETE,
    "tests/subscript_subranges_equal/test_subscript_subrange_equal.xmile": _INCOMPLETE,
    "tests/subscript_updimensioning/test_subscript_updimensioning.xmile": _INCOMPLETE,
    "tests/subscripted_flows/test_subscripted_flows.xmile": _INCOMPLETE,
    "tests/subscript_mixed_assembly/test_subscript_mixed_assembly.xmile":
        "the file is incomplete and inconsistent: '???' equations, and elements of Dim1 used "
        "as elements of Dim2",
    "tests/non_negative_flows/test_non_negative_flows.xmile":
        "malformed XML: the <flow name=\"if_else3\"> element is never closed",
    "tests/non_negative_flows/test_non_negative_flows_behavior.xmile":
        "malformed XML: a <flow> element is never closed",
    "tests/active_initial/test_active_initial.xmile":
        "the file lost the model's ACTIVE INITIAL (Value A is plain Time), so Stock A starts "
        "at 0 where the canonical output, from the Vensim model, starts at 45",
    "tests/smooth_and_stock/test_smooth_and_stock.xmile":
        "the file is a different model from the case's Vensim model: it has no variable 'Input'",
    "tests/zeroled_decimals/test_zeroled_decimals.xmile":
        "the file's sim_specs ask for RK4 (method=\"RK4\"), which the run follows, while the "
        "canonical output is the Vensim model's Euler run; with --method euler it matches",
    "tests/rounding/test_rounding.xmile":
        "XMILE's INT rounds down (INT(-9.5) = -10, XMILE 1.0 section 3.5.1); the canonical "
        "output is Vensim's INTEGER, which truncates (-9)",
}


# The kind of each failure, for the status file's summary.
KIND = {name: ("the file is incomplete: '???' for the values" if why == _INCOMPLETE or "???" in why
               else "the file calls a macro it does not define" if why == _NO_MACRO
               else "malformed XML" if why.startswith("malformed XML")
               else "the file is not the case's model" if "different model" in why or "lost" in why
               else "the file asks for other semantics than the canonical output's Vensim run")
        for name, why in EXPLAINED.items()}


def _output(folder: Path) -> Path | None:
    return next((folder / f for f in ("output.tab", "output.csv") if (folder / f).exists()), None)


def picked_file(folder: Path) -> Path | None:
    """The one XMILE file the acceptance checker runs for a case folder (its rule:
    named after the folder, else starting with test_, else the first by name)."""
    files = sorted(f.name for f in folder.iterdir() if f.suffix.lower() in XMILE_SUFFIXES)
    if not files:
        return None
    base = folder.name.lower()
    pick = ([f for f in files if Path(f).stem.lower() in (base, "test_" + base)]
            or [f for f in files if f.lower().startswith("test_")] or files)
    return folder / pick[0]


def find_files() -> list[tuple[str, Path, Path, bool]]:
    """(name, XMILE file, canonical output, counted as the case's file)."""
    out = []
    for folder in sorted({p.parent for p in SUITE.rglob("*") if p.suffix.lower() in XMILE_SUFFIXES}):
        expected = _output(folder)
        if expected is None:
            continue
        pick = picked_file(folder)
        for f in sorted(p for p in folder.iterdir() if p.suffix.lower() in XMILE_SUFFIXES):
            out.append((str(f.relative_to(SUITE)), f, expected, f == pick))
    return out


@pytest.fixture(scope="session")
def xmile_conformance():
    if not SUITE.is_dir():
        pytest.skip(f"conformance suite not found at {SUITE} (clone with ../shared beside the project)")
    files = find_files()
    results = {name: check_case(path, expected) for name, path, expected, _ in files}
    cases = [name for name, _, _, counted in files if counted]
    passed = sum(results[n] is None for n in cases)
    lines = ["# XMILE conformance status", "",
             "Generated by `tests/test_xmile_conformance.py`: every XMILE file of `../shared/test-models` "
             "against the case's canonical output "
             f"(tolerance: |got - want| <= {RTOL:g}·|want| + {SCALE_TOL:g}·max|column|).", "",
             f"**{passed} of {len(cases)} cases pass** (counting each case's file as the acceptance "
             f"checker picks it; {sum(r is None for r in results.values())} of {len(results)} files "
             "in all).", "",
             "| file | counted | status | reason |", "|---|---|---|---|"]
    for name, _, _, counted in files:
        why = results[name]
        reason = (why or "").replace("|", "\\|").replace("\n", " ")
        if why and name in EXPLAINED:
            reason = f"{EXPLAINED[name]} (error: {reason})"
        lines.append(f"| {name} | {'yes' if counted else ''} | {'pass' if why is None else 'fail'} | {reason} |")
    failing = [name for name, _, _, counted in files if counted and results[name] is not None]
    lines += ["", "## The failing cases by kind", ""]
    for kind in sorted({KIND.get(n, "unexplained") for n in failing}):
        names = [n.split("/")[1] for n in failing if KIND.get(n, "unexplained") == kind]
        lines.append(f"- {kind} ({len(names)}): {', '.join(names)}")
    if os.environ.get("SMARTSPEC_WRITE_STATUS"):   # only when asked: a test run changes no tracked file
        (HERE / "xmile_status.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return results


def ratchet() -> list[str]:
    path = HERE / "xmile_passing.txt"
    return [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.startswith("#")]


@pytest.mark.parametrize("name", ratchet())
def test_xmile_file_still_passes(xmile_conformance, name):
    assert name in xmile_conformance, f"{name} is in xmile_passing.txt but has no canonical output"
    assert xmile_conformance[name] is None, xmile_conformance[name]


def test_xmile_failures_are_explained(xmile_conformance):
    """Every failing file has its reason written down here (and so in the status file)."""
    unexplained = [n for n, why in xmile_conformance.items() if why is not None and n not in EXPLAINED]
    assert not unexplained, unexplained
