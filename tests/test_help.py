"""The command line's help and its refusals: --version, the calibration spec documented
and checked key by key, option values refused naming the option."""
from pathlib import Path

import pytest

from smartspec_dsl.errors import SpecError
from smartspec_dsl.experiments.calibrate import SPEC_DOC, SPEC_KEYS, read_spec

from conftest import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def _spec(tmp_path, text):
    path = tmp_path / "calib.toml"
    path.write_text(text)
    return path


GOOD = '[[parameter]]\nname = "Room Temperature"\nlower = 30\nupper = 100\n' \
       '[[target]]\nvariable = "Teacup Temperature"\nvalue = 75\n'


@pytest.mark.parametrize("text, message", [
    ("[[parameters]]\nname = 'x'\n", "parameters: unknown key; did you mean 'parameter'?"),
    (GOOD + "[option]\nmax_evaluations = 3\n", "option: unknown key; did you mean 'options'?"),
    (GOOD.replace("lower", "lowr"), "parameter 1.lowr: unknown key; did you mean 'lower'?"),
    (GOOD.replace("value = 75", "valu = 75"), "target 1.valu: unknown key; did you mean 'value'?"),
    (GOOD + "[scenario.hot]\nscales = { x = 2 }\n", "scenario.hot.scales: unknown key; did you mean 'scale'?"),
    (GOOD.replace("upper = 100", "upper = 'high'"), "parameter 1: upper must be a number, got 'high'"),
    (GOOD + "[options]\nmax_evaluations = 0\n", "max_evaluations must be a whole number of at least 1"),
    (GOOD + "[options]\nrelative_step = -1\n", "relative_step must be above 0"),
    ("colour = 1\n" + GOOD, "colour: unknown key (expected one of options, parameter, scenario, target)"),
])
def test_calibration_spec_keys_are_checked(tmp_path, text, message):
    with pytest.raises(SpecError) as err:
        read_spec(_spec(tmp_path, text))
    assert message in str(err.value)


def test_calibration_spec_doc_names_every_key():
    for table, keys in SPEC_KEYS.items():
        assert table in SPEC_DOC
        for key in keys:
            assert f"{key} =" in SPEC_DOC, key


def test_calibration_reports_the_models_spelling(tmp_path):
    pytest.importorskip("scipy")
    from smartspec_dsl import load
    from smartspec_dsl.experiments.calibrate import calibrate
    spec = read_spec(_spec(tmp_path, GOOD.replace("Room Temperature", "room_temperature")
                           .replace("value = 75", "value = 75.37400068")))
    fit = calibrate(load(DATA / "teacup.mdl"), spec)
    assert list(fit.parameters) == ["Room Temperature"]
    assert fit.parameters["Room Temperature"] == pytest.approx(70.0, rel=1e-6)


def test_sensitivity_reports_the_models_spelling(tmp_path, capsys):
    pytest.importorskip("SALib")
    spec = tmp_path / "morris.toml"
    spec.write_text('sampler = "morris"\nruns = 4\nseed = 1\noutputs = ["teacup temperature"]\n'
                    'times = "final"\n[parameters]\n"characteristic_time" = { dist = "uniform", low = 5, high = 15 }\n')
    out = tmp_path / "idx.csv"
    assert cli(["sensitivity", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("Teacup Temperature,Characteristic Time,")
    assert "Teacup Temperature at t = 30 (morris)" in capsys.readouterr().out


def test_version():
    import tomllib
    import subprocess
    import sys
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    proc = subprocess.run([sys.executable, "-m", "smartspec_dsl.cli", "--version"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == f"smartspec {version}"


def test_calibrate_help_documents_the_spec(capsys):
    assert cli(["calibrate", "-h"]) == 0
    text = capsys.readouterr().out
    for keys in SPEC_KEYS.values():
        for key in keys:
            assert f"{key} =" in text, key
    assert "[[parameter]]" in text and "[[target]]" in text and "[options]" in text


SWEEP = 'sampler = "lhs"\nruns = 700\nseed = 7\noutputs = ["Teacup Temperature"]\ntimes = "final"\n' \
        'chunk_size = 100\n[parameters]\n"Characteristic Time" = { dist = "uniform", low = 5, high = 15 }\n'


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace("sampler =", "sampelr ="), "sampelr: unknown key; did you mean 'sampler'?"),
    (lambda s: s.replace("[parameters]", "[parameter]"), "parameter: unknown key; did you mean 'parameters'?"),
    (lambda s: s.replace("outputs =", "output ="), "output: unknown key; did you mean 'outputs'?"),
])
def test_sweep_spec_suggests_the_key(tmp_path, capsys, edit, message):
    spec = tmp_path / "s.toml"
    spec.write_text(edit(SWEEP))
    assert cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--threads", "--chunk-size"])
@pytest.mark.parametrize("value, message", [("0", "must be at least 1, got 0"), ("-2", "must be at least 1, got -2"),
                                            ("two", "expected a whole number, got 'two'")])
def test_sweep_options_are_refused_naming_them(tmp_path, capsys, option, value, message):
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    code = cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(tmp_path / "out"),
                 option, value])
    assert code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_resume_reports_the_runs_it_ran(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    out = tmp_path / "out"
    argv = ["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(out), "--no-progress"]
    assert cli(argv) == 0
    assert "700 runs x 1 times x 1 outputs" in capsys.readouterr().err
    for i in (2, 5):
        (out / "chunks" / f"chunk-00000{i}.parquet").unlink()
    assert cli(argv + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert ": 200 runs x 1 times x 1 outputs" in err
    assert "500 of the sweep's 700 runs were already in" in err


def test_sweep_spec_names_are_echoed_as_the_model_spells_them(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP.replace('"Teacup Temperature"', '"teacup temprature"'))
    assert cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(tmp_path / "o")]) == 2
    assert "'teacup temprature' is not a variable of" in (err := capsys.readouterr().err)
    assert "did you mean 'Teacup Temperature'?" in err
    spec.write_text(SWEEP.replace('"Characteristic Time" =', '"heat_loss to room" ='))
    assert cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(tmp_path / "o")]) == 2
    assert "'Heat Loss to Room' is a flow, not a constant" in capsys.readouterr().err


def test_sweep_says_when_it_runs_fewer_threads_than_asked(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    import numba
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP.replace("runs = 700", "runs = 20").replace("chunk_size = 100", "chunk_size = 10"))
    asked = numba.config.NUMBA_NUM_THREADS + 1
    assert cli(["sweep", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(tmp_path / "o"),
                 "--threads", str(asked), "--no-progress"]) == 0
    assert f"warning: --threads {asked}: Numba runs at most {asked - 1} threads here" in capsys.readouterr().err
