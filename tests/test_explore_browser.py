"""`smartspec explore` in a real browser: headless Chromium (Debian's `chromium`) driven by
Playwright opens the page, moves sliders, saves scenarios, runs Monte Carlo; what the page
plots (uPlot's own data arrays, read from the page) must equal `Model.run` with the value
the page shows. Each view is saved as a screenshot under tests/screenshots/ (git-ignored).

Skips with a clear message when Chromium or Playwright is missing (`.ci/run` installs both:
`apt-get install chromium`, `pip install '.[browser]'`)."""
from __future__ import annotations

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_path

pytest.importorskip("tornado", reason="smartspec explore needs tornado: pip install 'smartspec[explore]'")
sync_api = pytest.importorskip(
    "playwright.sync_api",
    reason="the browser tests need Playwright: pip install 'smartspec[browser]' (.ci/run installs it)")
CHROMIUM = os.environ.get("SMARTSPEC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip("the browser tests need Debian's chromium (apt-get install chromium; .ci/run installs it)",
                allow_module_level=True)

from smartspec_dsl import load                        # noqa: E402
from smartspec_dsl.cli import main as cli_main        # noqa: E402
from smartspec_dsl.explore.api import Explorer        # noqa: E402
from smartspec_dsl.explore.server import Server       # noqa: E402

SHOTS = Path(__file__).resolve().parent / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# what the page plots, per chart: the series' labels and uPlot's data arrays (time first)
PLOTTED = "smartspec.charts.map(c => ({labels: c.u.series.map(s => s.label), data: c.u.data}))"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _serve(path):
    model = load(path)
    server = Server(Explorer(model), 0).start()
    return model, server


@pytest.fixture(scope="module")
def teacup():
    model, server = _serve(shared_path("test-models", "samples", "teacup", "teacup.mdl"))
    yield model, server
    server.stop()


@pytest.fixture(scope="module")
def world3():
    model, server = _serve(shared_path("real-models", "WRLD3-03", "wrld3-03.mdl"))
    yield model, server
    server.stop()


def _open(browser, server, tmp_path=None):
    page = browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_function("window.smartspec && smartspec.ready && !smartspec.busy()", timeout=20_000)
    page.errors = errors
    return page


def _idle(page):
    page.wait_for_function("!smartspec.busy()", timeout=20_000)


def _shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=False)


def _move(page, name, presses=1, key="ArrowRight"):
    """Move a constant's slider with the keyboard, as a person would; its new value."""
    page.fill("#search", name)
    slider = page.locator(f'input[type=range][data-name="{name}"]')
    slider.focus()
    for _ in range(presses):
        page.keyboard.press(key)
    _idle(page)
    return page.evaluate("n => smartspec.values[n]", name)


def _check_plotted(page, model, values):
    """Every series on every graph is the run of `model` it is labelled with: the current
    settings `values`, or the model's own values for '(base)'."""
    current = model.run(params=values)
    base = model.run()
    charts = page.evaluate(PLOTTED)
    assert charts
    checked = 0
    for chart in charts:
        time = np.array(chart["data"][0], dtype=float)
        np.testing.assert_array_equal(time, current.time)
        for label, data in zip(chart["labels"][1:], chart["data"][1:]):
            name, _, run = label.partition(" (")
            expected = base if run == "base)" else current
            np.testing.assert_array_equal(np.array(data, dtype=float), expected[name], err_msg=label)
            checked += 1
    return checked


def test_teacup_slider_redraws_the_run_of_that_value(browser, teacup):
    model, server = teacup
    page = _open(browser, server)
    _shot(page, "teacup-explore-default.png")
    value = _move(page, "Characteristic Time", presses=3)
    assert value == pytest.approx(10.6)          # three steps of 0.2 (no range in the units: 0 to 2 x 10)
    assert _check_plotted(page, model, {"Characteristic Time": value}) == 2
    # the current run differs from the faint base run behind it
    chart = page.evaluate(PLOTTED)[0]
    assert chart["data"][1][-1] != chart["data"][2][-1]
    _shot(page, "teacup-explore-moved.png")
    value = _move(page, "Room Temperature", presses=2, key="ArrowLeft")
    assert value == 66.0                          # step 2 (0 to 140 around 70)
    _check_plotted(page, model, {"Characteristic Time": 10.6, "Room Temperature": 66.0})
    assert not page.errors


def test_teacup_bad_value_is_a_message_in_the_page(browser, teacup):
    model, server = teacup
    page = _open(browser, server)
    box = page.locator('input.num[data-name="Room Temperature"]')
    box.fill("warm")
    box.press("Enter")
    _idle(page)
    message = page.locator("#message")
    assert message.is_visible()
    assert message.inner_text() == "'Room Temperature': 'warm' is not a number"
    assert "Traceback" not in page.content()
    _shot(page, "teacup-bad-value.png")
    # the graphs still show the last good run; a good value clears the message
    _check_plotted(page, model, {})
    box.fill("75")
    box.press("Enter")
    _idle(page)
    assert not message.is_visible()
    _check_plotted(page, model, {"Room Temperature": 75.0})


def test_world3_slider_redraws_every_graph(browser, world3):
    model, server = world3
    page = _open(browser, server)
    assert page.locator("#sliders input[type=range]").count() == 78   # the constants but the 4 controls
    value = _move(page, "initial nonrenewable resources", presses=5)
    assert value == pytest.approx(1.1e12)
    assert _check_plotted(page, model, {"initial nonrenewable resources": value}) == 2 * 15   # 15 stocks
    page.fill("#search", "")
    _shot(page, "world3-explore.png")
    assert not page.errors


def test_scenario_cin_reproduces_with_smartspec_run(browser, teacup, tmp_path):
    model, server = teacup
    page = _open(browser, server)
    room = _move(page, "Room Temperature", presses=5)             # 80
    tau = _move(page, "Characteristic Time", presses=4, key="ArrowLeft")   # 9.2
    page.click("#tabs button[data-view=scenarios]")
    page.fill("#scenario-name", "warm room")
    page.click("#scenario-save")
    page.wait_for_selector('tr[data-scenario="warm room"]')
    _move(page, "Room Temperature", presses=10, key="ArrowLeft")  # the current settings move on
    _idle(page)
    _shot(page, "teacup-scenarios.png")
    # the saved scenario is drawn on the graph beside the current and base runs
    chart = page.evaluate(PLOTTED)[0]
    assert chart["labels"] == ["Time", "Teacup Temperature (base)", "Teacup Temperature",
                               "Teacup Temperature (warm room)"]
    with page.expect_download() as info:
        page.click('tr[data-scenario="warm room"] button:text(".cin")')
    cin = tmp_path / "warm.cin"
    info.value.save_as(cin)
    assert cin.read_text() == f"Room Temperature = {float(room)!r}\nCharacteristic Time = {float(tau)!r}\n"
    out = tmp_path / "warm.csv"
    assert cli_main(["run", str(model.path), "--changes", str(cin), "-o", str(out)]) == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_array_equal([float(r["Teacup Temperature"]) for r in rows], chart["data"][3])
    # the CSV download: the current settings and the scenario, as `smartspec run` gives them
    with page.expect_download() as info:
        page.click("#scenario-csv")
    table = list(csv.reader(io.StringIO(Path(info.value.path()).read_text())))
    assert table[0] == ["Time", "Teacup Temperature (current)", "Teacup Temperature (warm room)"]
    np.testing.assert_array_equal([float(r[2]) for r in table[1:]], [float(r["Teacup Temperature"]) for r in rows])
    np.testing.assert_array_equal([float(r[1]) for r in table[1:]], chart["data"][2])
    assert not page.errors


def test_monte_carlo_bands(browser, teacup):
    model, server = teacup
    page = _open(browser, server)
    page.click("#tabs button[data-view=uncertainty]")
    row = page.locator('#mc-constants label[data-name="Characteristic Time"]')
    row.locator("input[type=checkbox]").check()
    row.locator("input[type=text]").nth(0).fill("5")
    row.locator("input[type=text]").nth(1).fill("15")
    page.fill("#mc-runs", "101")
    page.click("#mc-run")
    page.wait_for_function("smartspec.mc && smartspec.mcCharts.length", timeout=20_000)
    _shot(page, "teacup-uncertainty.png")
    mc = page.evaluate("smartspec.mc")
    samples = np.array(mc["samples"]["Characteristic Time"])
    assert len(samples) == 101 and samples.min() >= 5 and samples.max() <= 15
    # the temperature falls faster the shorter the time constant, at every time: so with an
    # odd number of runs the median band is exactly the run of the median time constant,
    # and the 5th and 95th percentile bands lie between the runs of the extreme ones
    bands = mc["bands"]["Teacup Temperature"]
    np.testing.assert_array_equal(bands["p50"], model.run(params={"Characteristic Time": np.median(samples)})
                                  ["Teacup Temperature"])
    low = model.run(params={"Characteristic Time": samples.min()})["Teacup Temperature"]
    high = model.run(params={"Characteristic Time": samples.max()})["Teacup Temperature"]
    assert np.all(low <= np.array(bands["p5"])) and np.all(np.array(bands["p95"]) <= high)
    plotted = page.evaluate("smartspec.mcCharts[0].u.data")
    np.testing.assert_array_equal(plotted[3], bands["p50"])


def test_documentation_view(browser, world3):
    model, server = world3
    page = _open(browser, server)
    page.click("#tabs button[data-view=doc]")
    page.wait_for_selector('#doc-list .var[data-name="Nonrenewable Resources"]')
    page.fill("#doc-search", "resource usage rate")
    text = page.locator('#doc-list .var[data-name="resource usage rate"]').inner_text()
    _shot(page, "world3-documentation.png")
    # the modeller's own text (wrld3-03.mdl, line 2235), its units, comment, causes and uses
    assert ("resource usage rate = ( ( ( population ) ) * ( per capita resource use multiplier ) ) "
            "* ( resource use factor )") in text
    assert "Non-renewable resource use rate (NRUR#130)." in text
    doc = {d["name"]: d for d in page.evaluate("smartspec.doc")}
    assert doc["resource usage rate"]["causes"] == ["per capita resource use multiplier", "population",
                                                    "resource use factor"]
    assert doc["resource usage rate"]["units"] == "Resource units/year"
    assert doc["Nonrenewable Resources"]["causes"] == ["initial nonrenewable resources", "resource usage rate"]
    assert "Nonrenewable Resources" in doc["resource usage rate"]["uses"]


def test_diagram_shows_the_current_values(browser, teacup):
    model, server = teacup
    page = _open(browser, server)
    page.click("#tabs button[data-view=diagram]")
    page.wait_for_function("smartspec.sketch && smartspec.diagramLabels && !smartspec.busy()")
    value = _move(page, "Room Temperature", presses=5)       # 80
    run = model.run(params={"Room Temperature": value})
    labels = dict(page.evaluate("smartspec.diagramLabels.map(l => [l.name, l.el.textContent])"))
    assert labels["Room Temperature"] == "80"
    assert labels["Teacup Temperature"] == f"{run['Teacup Temperature'][-1]:.5g}"      # at t = 30
    assert page.locator("#diagram svg rect").count() == 1                             # the one stock
    assert page.locator("#diagram svg circle").count() == 1                           # its valve
    page.locator("#diagram-time").fill("40")                                          # t = 5
    labels = dict(page.evaluate("smartspec.diagramLabels.map(l => [l.name, l.el.textContent])"))
    assert labels["Heat Loss to Room"] == f"{run['Heat Loss to Room'][40]:.5g}"
    assert page.locator("#diagram-time-label").inner_text() == "t = 5"
    _shot(page, "teacup-diagram.png")
    page.select_option("#diagram-view", "0")
    assert not page.errors
