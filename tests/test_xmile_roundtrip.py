"""`smartspec convert`: a Vensim conformance case the converter accepts,
written as XMILE and read back, runs to the same numbers as the .mdl itself;
the cases it refuses are refused with a located reason, never a traceback.
And back: XMILE files of the suite written as .mdl run to the same numbers.

Every case is converted; `make test` runs a sample that exercises each thing
the converter writes (each run compiles a kernel), and SMARTSPEC_XMILE_ALL=1
runs every accepted case (111 of 145: 4 minutes on 2 idle cores)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from smartspec_dsl import ModelError, load
from smartspec_dsl.cli import main
from smartspec_dsl.errors import UnsupportedFeature
from smartspec_dsl.frontend.source import parse_file
from smartspec_dsl.frontend.xmile_write import write_xmile
from smartspec_dsl.ir import canonical_name

from test_conformance import SUITE, find_cases

# What the converter refuses today stays refused for a stated reason; it may only shrink.
MIN_ACCEPTED = 111
# stocks and flows, lookups, delays and smooths, pulses and steps, INTEGER, arrays per element,
# apply-to-all, :EXCEPT:, sub-ranges, number lists, SUM/VMIN over ranges, quoted names, macros
# (with a stock of their own; calling one another)
SAMPLE = {"samples/teacup", "samples/SIR", "tests/delays", "tests/delay_fixed", "tests/lookups",
          "tests/input_functions", "tests/rounding", "tests/forecast", "tests/except",
          "tests/subscript_aggregation", "tests/subscript_individually_defined_stocks",
          "tests/subrange_merge", "tests/tabbed_arrays", "tests/special_characters",
          "tests/elm_count", "tests/logicals", "tests/builtin_max", "tests/smooth_and_stock",
          "tests/macro_stock", "tests/macro_multi_macros"}


def _key(column: str) -> str:
    return canonical_name(column).replace('\\"', '"')


@pytest.fixture(scope="module")
def cases():
    if not SUITE.is_dir():
        pytest.skip(f"conformance suite not found at {SUITE} (clone with ../shared beside the project)")
    return find_cases()


def test_round_trip_keeps_the_numbers(cases, tmp_path):
    accepted, refused, differ = 0, {}, {}
    for name, mdl, _ in cases:
        try:
            text = write_xmile(parse_file(mdl))
        except UnsupportedFeature as err:
            refused[name] = str(err)
            continue
        accepted += 1
        if name not in SAMPLE and not os.environ.get("SMARTSPEC_XMILE_ALL"):
            continue
        xmile = tmp_path / (name.replace("/", "_") + ".xmile")
        xmile.write_text(text, encoding="utf-8")
        try:
            want, got = load(mdl).run(), load(xmile).run()
        except ModelError as err:
            differ[name] = f"does not run: {err}"
            continue
        columns = {_key(c): i for i, c in enumerate(got.columns)}
        assert np.array_equal(want.time, got.time), name
        for i, c in enumerate(want.columns):
            j = columns.get(_key(c))
            if j is None:
                differ[name] = f"no column '{c}'"
                break
            if not np.allclose(want.values[:, i], got.values[:, j], rtol=1e-10, atol=1e-12, equal_nan=True):
                differ[name] = f"'{c}' differs"
                break
    assert not differ, differ
    assert accepted >= MIN_ACCEPTED, f"only {accepted} cases converted; refused: {refused}"
    # every refusal says where and what (FILE:LINE:COL or the file, then the reason)
    assert all(why.startswith(str(SUITE)) for why in refused.values()), refused


def test_convert_command_writes_xmile_and_refuses_cleanly(tmp_path, capsys):
    mdl = SUITE / "samples" / "teacup" / "teacup.mdl"
    if not mdl.exists():
        pytest.skip(f"conformance suite not found at {SUITE}")
    out = tmp_path / "teacup.stmx"
    assert main(["convert", str(mdl), "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<outflow>Heat_Loss_to_Room</outflow>" in text and "<dt>0.125</dt>" in text
    # a model XMILE cannot express: exit non-zero, a located message, no file
    trend = SUITE / "tests" / "trend" / "test_trend.mdl"
    target = tmp_path / "trend.xmile"
    assert main(["convert", str(trend), "-o", str(target)]) != 0
    err = capsys.readouterr().err
    assert "test_trend.mdl:" in err and "Vensim's TREND (in 'TREND of input')" in err and not target.exists()
    # only the formats it writes
    assert main(["convert", str(mdl), "-o", str(tmp_path / "x.txt")]) != 0


# XMILE files of the suite that pass, back to Vensim: modules, graphical functions,
# per-element arrays, non-negative stocks, DELAY, SAFEDIV
BACK = ["samples/teacup/teacup.xmile", "samples/bpowers-hares_and_lynxes_modules/model.xmile",
        "tests/lookups/test_lookups_xscale.xmile", "tests/delay_xmile/test_delay_xmile.xmile",
        "tests/subscript_individually_defined_1d_arrays/subscript_individually_defined_1d_arrays.xmile",
        "tests/non_negative_stocks/test_non_negative_stocks.xmile", "tests/xidz_zidz/xidz_zidz.xmile"]


@pytest.mark.parametrize("name", BACK)
def test_xmile_to_mdl_keeps_the_numbers(name, tmp_path):
    source = SUITE / name
    if not source.exists():
        pytest.skip(f"conformance suite not found at {SUITE}")
    mdl = tmp_path / "back.mdl"
    assert main(["convert", str(source), "-o", str(mdl)]) == 0
    want, got = load(source).run(), load(mdl).run()
    columns = {_key(c): i for i, c in enumerate(got.columns)}
    assert np.array_equal(want.time, got.time)
    for i, c in enumerate(want.columns):
        np.testing.assert_allclose(got.values[:, columns[_key(c)]], want.values[:, i], rtol=1e-10, atol=1e-12,
                                   err_msg=c)
