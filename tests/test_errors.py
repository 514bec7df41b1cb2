"""User errors, end to end: the CLI run on real bad model files.

Every file in tests/data/bad/ is tests/data/teacup.mdl (Vensim's teacup sample)
with exactly one defect. For each, `smartspec run` must exit 2, print a
message without a Python traceback, and leave the output path alone: no new
file (nor a temporary one) when there was none, and an existing file's bytes
unchanged.

Line and column numbers below are counted by hand from the files (1-based; a
tab counts as one column, as in every compiler's messages).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli

DATA = Path(__file__).resolve().parent / "data"
BAD = DATA / "bad"
TEACUP = DATA / "teacup.mdl"
SENTINEL = b"Time,old\n0,1\n"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    # One kernel cache for the session: the runs that get past compilation
    # (--set, output path) then compile the teacup only once.
    return tmp_path_factory.mktemp("smartspec-cache")


def smartspec(args, cache_dir: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=cwd, env={"SMARTSPEC_CACHE_DIR": str(cache_dir)})


def assert_clean_failure(proc: subprocess.CompletedProcess) -> str:
    """Exit 2, one `error: ...` message, no traceback; returns stderr."""
    err = proc.stderr
    assert "Traceback" not in err, err
    assert proc.returncode == 2, (proc.returncode, err)
    assert err.startswith("error: "), err
    assert proc.stdout == "", proc.stdout
    return err


def run_bad(model: Path, tmp_path: Path, cache_dir: Path, existing: bool, extra=()) -> str:
    """Run `model` with -o into an empty directory (or one holding an old output);
    check the failure is clean and the directory unchanged; return stderr."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result.csv"
    if existing:
        out.write_bytes(SENTINEL)
    proc = smartspec(["run", model, "-o", out, *extra], cache_dir)
    err = assert_clean_failure(proc)
    if existing:
        assert sorted(p.name for p in out_dir.iterdir()) == ["result.csv"]
        assert out.read_bytes() == SENTINEL
    else:
        assert list(out_dir.iterdir()) == [], "output (or a temporary file) was created"
    return err


def source_line(model: Path, line: int) -> str:
    return model.read_text(encoding="utf-8").splitlines()[line - 1]


def squash(s: str) -> str:
    return " ".join(s.split())


existing_output = pytest.mark.parametrize("existing", [False, True], ids=["no-output", "old-output"])


def test_bad_files_have_one_defect_each():
    """Guard on the fixtures: each bad file differs from the teacup in one place."""
    import difflib
    good = TEACUP.read_text(encoding="utf-8").splitlines()
    for f in sorted(BAD.glob("*.mdl")):
        bad = f.read_text(encoding="utf-8").splitlines()
        ops = [op for op in difflib.SequenceMatcher(None, good, bad).get_opcodes() if op[0] != "equal"]
        assert len(ops) == 1, (f.name, ops)


# ---------------------------------------------------------------- syntax errors

SYNTAX_CASES = {
    # line 9 is "\t(Teacup Temperature - Room Temperature) / * Characteristic Time":
    # tab 1, '(' 2, "Teacup Temperature" 3-20, ' ' 21, '-' 22, ' ' 23,
    # "Room Temperature" 24-39, ')' 40, ' ' 41, '/' 42, ' ' 43, '*' 44.
    # After '/', an operand: a name, a number, '(' ...
    "syntax_double_operator": (9, 44, "*", ["name", "number", "'('"]),
    # line 16 is "\t70 @ 2": tab 1, '7' 2, '0' 3, ' ' 4, '@' 5. After a number, an operator.
    "syntax_bad_character": (16, 5, "@", ["'+'", "'*'"]),
    # INTEG ( ... 180 with no ')': line 24 is "\t\t180", so the next token is the
    # '~' of the units, line 25 "\t~\tDegrees Fahrenheit [32,212]", column 2.
    "syntax_unclosed_paren": (25, 2, "~", ["')'", "','"]),
}


@existing_output
@pytest.mark.parametrize("case", sorted(SYNTAX_CASES))
def test_syntax_error(case, existing, tmp_path, cache_dir):
    line, col, found, expect_mentions = SYNTAX_CASES[case]
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    lines = err.rstrip("\n").split("\n")
    m = re.fullmatch(re.escape(f"error: {model}:{line}:{col}: syntax error: expected ") +
                     r"(.+), found '(.*)'", lines[0])
    assert m, f"want {model}:{line}:{col}: syntax error: expected ..., found '{found}', got:\n{err}"
    expected, got_found = m.groups()
    assert got_found == found, err
    for word in expect_mentions:
        assert word in expected, (word, err)
    # the grammar's internal terminal names must not leak into the message
    assert "anon" not in expected.lower() and "__" not in expected, err

    # Then the source line, and a caret under the offending token.
    assert len(lines) == 3, err
    shown, caret = lines[1], lines[2]
    assert caret.strip() == "^", err
    k = caret.index("^")
    src = source_line(model, line)
    assert squash(shown) == squash(src), err
    assert shown[k:].startswith(found), f"caret not under '{found}':\n{err}"
    assert squash(shown[:k]) == squash(src[:col - 1]), f"caret under the wrong '{found}':\n{err}"


# ---------------------------------------------------------------- undefined variable

@existing_output
@pytest.mark.parametrize("case, line, name, used_in, suggested", [
    # line 9: "\t(Teacup Temperature - Room Temperatur) / Characteristic Time"
    ("undefined_variable", 9, "Room Temperatur", "Heat Loss to Room", "Room Temperature"),
    # the INTEG starts on line 22; the misspelt rate is on line 23: "\t-Heat Loss to Rom,"
    ("undefined_variable_in_stock", 23, "Heat Loss to Rom", "Teacup Temperature", "Heat Loss to Room"),
])
def test_undefined_variable(case, line, name, used_in, suggested, existing, tmp_path, cache_dir):
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert f"{model}:{line}:" in err, err
    assert "undefined" in err.lower(), err
    assert f"'{name}'" in err, err   # as the modeller wrote it
    assert used_in in err, err
    assert err.rstrip().endswith(f"did you mean '{suggested}'?"), err


# ---------------------------------------------------------------- functions

@existing_output
@pytest.mark.parametrize("case, line, func, known", [
    ("unknown_function", 9, "FOOBAR", False),             # "\tFOOBAR(Teacup ... ) / ..."
    ("unknown_function_in_initial", 24, "FOOBAR", False),  # "\t\tFOOBAR(180))", the INTEG's initial value
    ("unsupported_vector_select", 9, "VECTOR SELECT", True),
    # "\tGET TIME VALUE(0, 0, 3)": month of year, a calendar measure
    ("unsupported_get_time_value", 16, "GET TIME VALUE", True),
])
def test_unsupported_function(case, line, func, known, existing, tmp_path, cache_dir):
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert f"{model}:{line}:" in err, err
    assert func in err, err
    if known:
        assert "not supported" in err, err
    else:
        assert "is not a Vensim function, nor a macro or lookup defined in this model" in err, err


@pytest.mark.parametrize("case", ["unsupported_vector_select", "unsupported_get_time_value"])
def test_check_refuses_what_run_refuses_the_same_way(case, tmp_path, cache_dir):
    # `check` and `run` agree: exit 2 and the same one `error:` line, and `check` prints
    # no summary before it (a "parsed" line would read as success)
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing=False)
    assert assert_clean_failure(smartspec(["check", model], cache_dir)) == err


@existing_output
@pytest.mark.parametrize("case, line, func, want, got", [
    ("wrong_arg_count_max", 9, "MAX", 2, 1),        # "\tMAX(Teacup Temperature - Room Temperature) / ..."
    ("wrong_arg_count_smooth", 9, "SMOOTH", 2, 1),  # a stateful one: checked before it is lowered
    ("wrong_arg_count_integ", 22, "INTEG", 2, 1),   # "Teacup Temperature= INTEG (\n\t-Heat Loss to Room)"
])
def test_wrong_argument_count(case, line, func, want, got, existing, tmp_path, cache_dir):
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert f"{model}:{line}:" in err, err
    assert re.search(rf"\b{func} takes {want} arguments\b.*\bgot {got}\b", err), err


@existing_output
def test_integ_not_at_top_level(existing, tmp_path, cache_dir):
    model = BAD / "integ_not_top_level.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    # line 22: "Teacup Temperature= 0 + INTEG (": INTEG at column 25
    assert f"{model}:22:25:" in err, err
    assert "INTEG" in err and "whole equation" in err, err


# ---------------------------------------------------------------- algebraic loops

@existing_output
@pytest.mark.parametrize("case, members, others", [
    # a = b + 1 (line 22), b = a * 2 (line 28)
    ("algebraic_loop", {"a": 22, "b": 28}, []),
    # Apple -> Banana -> Cherry -> Apple; Fruit Salad reads the loop but is not in it
    ("algebraic_loop_three", {"Apple Count": 22, "Banana Count": 27, "Cherry Count": 32},
     ["Fruit Salad", "Room Temperature"]),
    # the stock's initial value reads Initial Temperature, which reads the stock
    ("algebraic_loop_initial", {"Teacup Temperature": 22, "Initial Temperature": 28}, []),
])
def test_algebraic_loop(case, members, others, existing, tmp_path, cache_dir):
    model = BAD / f"{case}.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert "algebraic loop" in err.lower(), err
    lines = err.splitlines()
    for name, line in members.items():
        where = f"{model}:{line}:"
        assert any(re.search(rf"(?<!\w){re.escape(name)}(?!\w)", ln) and where in ln
                   for ln in lines), f"'{name}' (defined at {where}) not listed:\n{err}"
    for name in others:
        assert name not in err, f"'{name}' is not in the loop:\n{err}"


# ---------------------------------------------------------------- --set

@existing_output
# (a flow or an auxiliary may be set: its equation is replaced, as PySD does; test_pysd_api.py)
@pytest.mark.parametrize("setting, name, what", [
    ("Teacup Temperature=100", "Teacup Temperature", "stock"),
])
def test_set_not_a_constant(setting, name, what, existing, tmp_path, cache_dir):
    err = run_bad(TEACUP, tmp_path, cache_dir, existing, ["--set", setting])
    assert f"'{name}'" in err, err
    assert "not a constant" in err, err
    article = "an" if what[0] in "aeiou" else "a"
    assert f"is {article} {what}," in err, err


@existing_output
def test_set_unknown_name(existing, tmp_path, cache_dir):
    err = run_bad(TEACUP, tmp_path, cache_dir, existing, ["--set", "Tea Temperature=3"])
    assert "'Tea Temperature'" in err, err
    assert "not a variable" in err, err
    assert "did you mean" not in err, err   # no constant is close to it
    (tmp_path / "again").mkdir()
    err = run_bad(TEACUP, tmp_path / "again", cache_dir, existing, ["--set", "Room Temprature=3"])
    assert err.rstrip().endswith("not a variable of " + str(TEACUP) + "; did you mean 'Room Temperature'?"), err


@existing_output
@pytest.mark.parametrize("setting, needle", [
    ("Room Temperature=abc", "'abc' is not a number"),
    ("Room Temperature=", "is not a number"),
    # values no model file can hold: refused, naming the variable and the value as written
    ("Room Temperature=inf", "'Room Temperature' must be a finite number, got inf (--set)"),
    ("Room Temperature=-Infinity", "'Room Temperature' must be a finite number, got -Infinity (--set)"),
    ("Room Temperature=nan", "'Room Temperature' must be a finite number, got nan (--set)"),
    ("Room Temperature=1e400", "'Room Temperature' must be a finite number, got 1e400 (--set)"),
    ("Room Temperature", "NAME=VALUE"),
    ("=5", "NAME=VALUE"),
])
def test_set_malformed(setting, needle, existing, tmp_path, cache_dir):
    err = run_bad(TEACUP, tmp_path, cache_dir, existing, ["--set", setting])
    assert needle in err, err
    if "=" in setting and setting[0] != "=":
        assert "Room Temperature" in err, err


# ---------------------------------------------------------------- files

@existing_output
def test_missing_model_file(existing, tmp_path, cache_dir):
    model = tmp_path / "no_such_model.mdl"
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert str(model) in err, err
    assert "no such file" in err.lower(), err


@existing_output
def test_model_path_is_a_directory(existing, tmp_path, cache_dir):
    model = tmp_path / "models.mdl"
    model.mkdir()
    err = run_bad(model, tmp_path, cache_dir, existing)
    assert str(model) in err, err
    assert "directory" in err.lower(), err


def _assert_names_output(err: str, out: Path) -> None:
    assert str(out) in err or str(out.parent) in err, err
    # not the name of an internal temporary file next to it
    assert not re.search(re.escape(str(out)) + r"\.\w", err), err


def test_output_directory_missing(tmp_path, cache_dir):
    out = tmp_path / "no_such_dir" / "result.csv"
    err = assert_clean_failure(smartspec(["run", TEACUP, "-o", out], cache_dir))
    _assert_names_output(err, out)
    assert not out.parent.exists()


def test_output_parent_is_a_file(tmp_path, cache_dir):
    parent = tmp_path / "plain_file"
    parent.write_bytes(SENTINEL)
    out = parent / "result.csv"
    err = assert_clean_failure(smartspec(["run", TEACUP, "-o", out], cache_dir))
    _assert_names_output(err, out)
    assert parent.read_bytes() == SENTINEL


@pytest.fixture
def readonly_dir(tmp_path):
    """A directory no one can create files in, even root (chattr +i when root)."""
    d = tmp_path / "readonly"
    d.mkdir()
    (d / "result.csv").write_bytes(SENTINEL)
    d.chmod(0o555)
    immutable = False
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        immutable = bool(chattr) and subprocess.run([chattr, "+i", str(d)],
                                                     capture_output=True).returncode == 0
    try:
        try:
            (d / "probe").touch()
        except OSError:
            pass
        else:
            (d / "probe").unlink()
            pytest.skip("cannot make a directory unwritable here")
        yield d
    finally:
        if immutable:
            subprocess.run([shutil.which("chattr"), "-i", str(d)], check=True)
        d.chmod(0o755)


@pytest.mark.parametrize("existing", [False, True], ids=["new-output", "old-output"])
def test_output_directory_not_writable(existing, readonly_dir, cache_dir):
    out = readonly_dir / ("result.csv" if existing else "new.csv")
    err = assert_clean_failure(smartspec(["run", TEACUP, "-o", out], cache_dir))
    _assert_names_output(err, out)
    assert sorted(p.name for p in readonly_dir.iterdir()) == ["result.csv"]
    assert (readonly_dir / "result.csv").read_bytes() == SENTINEL


def test_good_model_runs(tmp_path, cache_dir):
    """The control case: the unmodified teacup runs and writes its output."""
    out = tmp_path / "result.csv"
    proc = smartspec(["run", TEACUP, "-o", out], cache_dir)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("Time,")


def test_a_function_of_placeholder(tmp_path, cache_dir):
    model = tmp_path / "draft.mdl"
    model.write_text("x = A FUNCTION OF(y) ~~|\ny = 1 ~~|\nINITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\n"
                     "TIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n")
    err = run_bad(model, tmp_path, cache_dir, False)
    assert f"{model}:1:5: Vensim function A FUNCTION OF is not supported by smartspec: Vensim's " \
           "placeholder for an equation not written yet" in err, err


@pytest.mark.parametrize("text, extra, expected", [
    ("FINAL TIME = -5 ~~|\nTIME STEP = 1 ~~|", [],
     "FINAL TIME (-5) is before INITIAL TIME (0) (FINAL TIME is defined at {model}:3:1)"),
    ("FINAL TIME = 5 ~~|\nTIME STEP = 0 ~~|", [], "TIME STEP must be positive, got 0 (TIME STEP is defined at {model}:4:1)"),
    ("FINAL TIME = 5 ~~|\nTIME STEP = 1 ~~|", ["--time-step", "0"],
     "TIME STEP must be positive, got 0 (TIME STEP as given to this run)"),
])
def test_bad_time_bounds(text, extra, expected, tmp_path, cache_dir):
    model = tmp_path / "bounds.mdl"
    model.write_text(f"x = 1 ~~|\nINITIAL TIME = 0 ~~|\n{text}\nSAVEPER = 1 ~~|\n")
    err = run_bad(model, tmp_path, cache_dir, False, extra)
    assert expected.format(model=model) in err, err
