"""Calibration recovers constants from a model's own output."""
import pytest

from smartspec_dsl.experiments.calibrate import calibrate, read_spec
from smartspec_dsl.cli import main
from smartspec_dsl.experiments.output import write_table
from smartspec_dsl.errors import SpecError

from conftest import shared_path


def test_recovers_constants_from_a_time_series(teacup, tmp_path):
    truth = teacup.run(params={"Room Temperature": 64.0, "Characteristic Time": 13.5},
                       return_columns=["Teacup Temperature"])
    with open(tmp_path / "observed.csv", "w", encoding="utf-8") as fh:
        write_table(fh, truth.time[::8], truth.columns, truth.values[::8])
    (tmp_path / "spec.toml").write_text("""
[[parameter]]
name = "Room Temperature"
lower = 30
upper = 100
[[parameter]]
name = "Characteristic Time"
lower = 1
upper = 50
[[target]]
file = "observed.csv"
""")
    seen = []
    fit = calibrate(teacup, read_spec(tmp_path / "spec.toml"), progress=lambda n, c: seen.append((n, c)))
    assert fit.parameters["Room Temperature"] == pytest.approx(64.0, rel=1e-6)
    assert fit.parameters["Characteristic Time"] == pytest.approx(13.5, rel=1e-6)
    assert fit.cost < 1e-12
    # progress: every batch of runs, the run count growing to the total, the lowest cost never rising
    runs, costs = zip(*seen)
    assert list(runs) == sorted(set(runs)) and runs[-1] == fit.evaluations
    assert all(b <= a for a, b in zip(costs, costs[1:])) and costs[-1] <= fit.cost


def test_recovers_from_scenario_final_values(teacup, tmp_path):
    # two scenarios' final temperatures pin down both constants (hand-checked: distinct rooms)
    hot = teacup.run(params={"Room Temperature": 1.5 * 60.0, "Characteristic Time": 8.0})
    base = teacup.run(params={"Room Temperature": 60.0, "Characteristic Time": 8.0})
    (tmp_path / "spec.toml").write_text(f"""
[[parameter]]
name = "Room Temperature"
lower = 30
upper = 80
[[parameter]]
name = "Characteristic Time"
lower = 2
upper = 30
[[target]]
variable = "Teacup Temperature"
value = {float(base["Teacup Temperature"][-1])!r}
[[target]]
variable = "Teacup Temperature"
time = 10
value = {float(hot["Teacup Temperature"][80])!r}
scenario = "hot"
[scenario.hot]
scale = {{ "Room Temperature" = 1.5 }}
""")
    fit = calibrate(teacup, read_spec(tmp_path / "spec.toml"))
    assert fit.parameters["Room Temperature"] == pytest.approx(60.0, rel=1e-5)
    assert fit.parameters["Characteristic Time"] == pytest.approx(8.0, rel=1e-5)


def test_bad_spec(tmp_path):
    (tmp_path / "s.toml").write_text('[[parameter]]\nname = "x"\nlower = 2\nupper = 1\n')
    with pytest.raises(SpecError, match="lower 2 must be below upper 1"):
        read_spec(tmp_path / "s.toml")


def test_cli(teacup, tmp_path, capsys):
    (tmp_path / "spec.toml").write_text("""
[[parameter]]
name = "Room Temperature"
lower = 30
upper = 100
[[target]]
variable = "Teacup Temperature"
value = 75.37400068
""")
    path = shared_path("test-models", "samples", "teacup", "teacup.mdl")
    assert main(["calibrate", str(path), "--spec", str(tmp_path / "spec.toml"), "-o", str(tmp_path / "fit.csv")]) == 0
    fitted = float((tmp_path / "fit.csv").read_text().splitlines()[1].split(",")[2])
    assert fitted == pytest.approx(70.0, rel=1e-6)   # the model's own final value at Room = 70
