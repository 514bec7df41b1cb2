"""The command line's help and its refusals: --version, the calibration spec documented
and checked key by key, option values refused naming the option."""
from pathlib import Path

import pytest

from smartspec_dsl.errors import SpecError
from smartspec_dsl.experiments.calibrate import SPEC_DOC, SPEC_KEYS, read_spec

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def _cli(argv):
    from smartspec_dsl.cli import main
    try:
        return main(argv)
    except SystemExit as exit:        # argparse's own exits (--help, --version, bad values)
        return exit.code


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
    assert _cli(["sensitivity", str(DATA / "teacup.mdl"), "--spec", str(spec), "-o", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("Teacup Temperature,Characteristic Time,")
    assert "Teacup Temperature at t = 30 (morris)" in capsys.readouterr().out
