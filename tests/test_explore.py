"""`smartspec explore` without a browser: the sliders' ranges, the groups, what the page
may send, the scenario's changes file and the documentation's causes and uses. The page
itself is tested in a real browser by test_explore_browser.py."""
from __future__ import annotations

import base64
import textwrap

import numpy as np
import pytest

from smartspec_dsl import load
from smartspec_dsl.errors import ParameterError
from smartspec_dsl.explore import catalog
from smartspec_dsl.explore.api import Explorer
from smartspec_dsl.frontend.changes import parse_changes
from smartspec_dsl.frontend.parse import parse_model

MODEL = textwrap.dedent("""\
    {UTF-8}
    ********************************************************
    \t.Stocks
    ********************************************************~
    \t\tThe stock and its flow.
    \t|
    level = INTEG(inflow, 5)
    \t~ widgets [0, ?]
    \t~ What is kept.
    \t|
    inflow = rate * (goal - level)
    \t~ widgets/Month
    \t~ Closes the gap.
    \t|
    ********************************************************
    \t.Policy
    ********************************************************~
    \t|
    rate = 0.25
    \t~ 1/Month [0, 1, 0.05]
    \t~ How fast.
    \t|
    goal = 40
    \t~ widgets [10, ?]
    \t~
    \t|
    fixed == 3
    \t~ Dmnl
    \t~
    \t|
    INITIAL TIME = 0 ~ Month ~ |
    FINAL TIME = 10 ~ Month ~ |
    TIME STEP = 0.5 ~ Month ~ |
    SAVEPER = TIME STEP ~ Month ~ |
    """)


@pytest.fixture(scope="module")
def explorer(tmp_path_factory):
    path = tmp_path_factory.mktemp("explore") / "gap.mdl"
    path.write_text(MODEL)
    return Explorer(load(path))


def test_groups_come_from_the_group_headers():
    model = parse_model(MODEL, "gap.mdl")
    assert {v.display: v.group for v in model.variables.values() if v.display != "Time"} == {
        "level": "Stocks", "inflow": "Stocks", "rate": "Policy", "goal": "Policy", "fixed": "Policy",
        "INITIAL TIME": "Policy", "FINAL TIME": "Policy", "TIME STEP": "Policy", "SAVEPER": "Policy"}


@pytest.mark.parametrize("units, default, expected", [
    ("1/Month [0, 1, 0.05]", 0.25, (0.0, 1.0, 0.05, True)),     # the model's range and step
    ("widgets [0, 100]", 40.0, (0.0, 100.0, 1.0, True)),        # its range; 100 positions
    ("widgets [10, ?]", 40.0, (10.0, 80.0, 1.0, False)),        # one bound: 0..2x40 within it
    ("Minutes [0,?]", 10.0, (0.0, 20.0, 0.2, False)),
    ("Dmnl", -3.0, (-6.0, 0.0, 0.1, False)),                    # no range: around the default
    ("Dmnl", 0.0, (0.0, 1.0, 0.01, False)),
    ("widgets [0, 10]", 25.0, (0.0, 25.0, 0.5, True)),          # the default always fits
    ("widgets [5, 5]", 5.0, (0.0, 10.0, 0.1, False)),           # an empty range is no range
])
def test_slider_range(units, default, expected):
    assert catalog.slider_range(units, default) == pytest.approx(expected)


def test_only_declared_constants_are_sliders(explorer):
    assert [(s.name, s.group, s.min, s.max, s.step) for s in explorer.sliders.values()] == [
        ("rate", "Policy", 0.0, 1.0, 0.05), ("goal", "Policy", 10.0, 80.0, 1.0)]
    assert explorer.info["graphs"] == [{"title": "widgets", "variables": ["level"]}]


@pytest.mark.parametrize("values, message", [
    ({"inflow": 1}, "'inflow' is a flow, not a constant of the model; only constants can be set"),
    ({"goa": 1}, "did you mean 'goal'?"),
    ({"fixed": 1}, "'fixed' is a constant the explorer does not change"),
    ({"FINAL TIME": 20}, "'FINAL TIME' is a constant the explorer does not change"),
    ({"goal": "high"}, "'goal': 'high' is not a number"),
    ({"goal": None}, "'goal': null is not a number"),
    ({"goal": True}, "'goal': true is not a number"),
    ({"goal": float("nan")}, "'goal': nan is not a finite number"),
    ({"goal": 10 ** 400}, "'goal': 1000.* is not a finite number"),       # a JSON whole number beyond float
    ({"goal": "1e400"}, "'goal': '1e400' is not a finite number"),
    ({"goal": "1_000"}, "'goal': '1_000' is not a number"),            # Python's float() takes it; JSON not
    ({"goal": "infinity"}, "'goal': 'infinity' is not a number"),
    ({"goal": "0x10"}, "'goal': '0x10' is not a number"),
])
def test_what_the_page_may_not_send(explorer, values, message):
    with pytest.raises(ParameterError, match=message.replace("?", r"\?").replace("(", r"\(")):
        explorer.run({"values": values})


def test_run_is_model_run(explorer):
    out = explorer.run({"values": {"goal": "60", "Rate": 0.5}, "variables": ["level", "INFLOW"]})
    series = {k: np.frombuffer(base64.b64decode(v), "<f8") for k, v in out["series"].items()}
    ref = explorer.model.run(params={"goal": 60, "rate": 0.5})
    np.testing.assert_array_equal(series["level"], ref["level"])
    np.testing.assert_array_equal(series["inflow"], ref["inflow"])
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(out["time"]), "<f8"), np.arange(21) * 0.5)
    # Euler by hand: level(0.5) = 5 + 0.5 * 0.5 * (60 - 5)
    assert series["level"][1] == 5 + 0.5 * 0.5 * 55
    with pytest.raises(ParameterError, match="'nothing' is not a variable of the model"):
        explorer.run({"values": {}, "variables": ["nothing"]})


def test_changes_file_reads_back(explorer):
    text = explorer.changes({"values": {"goal": 52.5, "rate": 0.25}})   # rate is its default
    assert text == "goal = 52.5\n"
    assert parse_changes(text).constants == {"goal": 52.5}
    run = explorer.model.run(changes=[parse_changes(text)])
    assert run["level"].tolist() == explorer.model.run(params={"goal": 52.5})["level"].tolist()


def test_csv_has_each_scenario(explorer):
    text = explorer.csv({"scenarios": [{"name": "now", "values": {}}, {"name": "high", "values": {"goal": 80}}],
                         "variables": ["level"]})
    lines = text.splitlines()
    assert lines[0] == "Time,level (now),level (high)"
    assert lines[1] == "0.0,5.0,5.0"
    assert lines[2] == f"0.5,{5 + 0.125 * 35!r},{5 + 0.125 * 75!r}"


def test_monte_carlo_checks_its_ranges(explorer):
    with pytest.raises(ParameterError, match="pick at least one constant"):
        explorer.monte_carlo({"values": {}, "ranges": {}})
    with pytest.raises(ParameterError, match=r"'goal': low \(50\) must be below high \(20\)"):
        explorer.monte_carlo({"values": {}, "ranges": {"goal": [50, 20]}})
    with pytest.raises(ParameterError, match="'runs' must be a whole number"):
        explorer.monte_carlo({"values": {}, "ranges": {"goal": [20, 50]}, "runs": 10**9})
    with pytest.raises(ParameterError, match=r"'goal': the range \[-1e\+308, 1e\+308\] is too wide"):
        explorer.monte_carlo({"values": {}, "ranges": {"goal": [-1e308, 1e308]}})
    with pytest.raises(ParameterError, match="'goal': 1000.* is not a finite number"):
        explorer.monte_carlo({"values": {}, "ranges": {"goal": [0, 10 ** 400]}})
    # a range as wide as floats allow still draws finite values
    out = explorer.monte_carlo({"values": {}, "ranges": {"goal": [-1e307, 1e307]}, "runs": 4})
    assert all(x is not None and -1e307 <= x <= 1e307 for x in out["samples"]["goal"])


def test_monte_carlo_too_large_for_memory_is_refused(explorer, monkeypatch):
    """Runs x saved times x variables x 8 bytes, taken 3 times at the peak (kept values,
    the sorted copy of exact percentiles, the finite copy), must fit in the free memory."""
    from smartspec_dsl.explore import api
    body = {"values": {}, "ranges": {"goal": [20, 50]}, "runs": 1000, "variables": ["level", "inflow"]}
    kept = 1000 * 21 * 2 * 8      # 21 saved times: 0 to 10 by 0.5
    monkeypatch.setattr(api, "_available_bytes", lambda: 3 * kept - 1)
    with pytest.raises(ParameterError, match=r"1,000 runs x 21 saved times x 2 variables .*"
                                             r"\(the memory this machine has free\)"):
        explorer.monte_carlo(body)
    monkeypatch.setattr(api, "_available_bytes", lambda: 3 * kept)
    assert explorer.monte_carlo(body)["runs"] == 1000
    monkeypatch.setattr(api, "MAX_BYTES", kept - 1)
    with pytest.raises(ParameterError, match="above the 0 MiB one Monte Carlo may keep: ask for fewer runs"):
        explorer.monte_carlo(body)


def test_an_inverted_units_range_is_reported(tmp_path, capsys):
    """`dmnl [10, 1, 0.5]`: min above max. Not a range (the slider goes around the
    default), and said so: on the slider (`note`) and by the command at start."""
    assert catalog.slider_range("dmnl [10, 1, 0.5]", 4.0)[3] is False
    assert catalog.range_note("dmnl [10, 1, 0.5]") == ("the range [10, 1] in its units field is ignored: "
                                                       "its minimum is above its maximum")
    assert catalog.range_note("dmnl [3, 3]").endswith("its minimum equals its maximum")
    assert catalog.range_note("dmnl [0, 10, 0.5]") == catalog.range_note("dmnl [0, ?]") == ""
    path = tmp_path / "inverted.mdl"
    path.write_text(MODEL.replace("1/Month [0, 1, 0.05]", "dmnl [10, 1, 0.5]"))
    sl = {s.name: s for s in catalog.sliders(load(path))}
    assert sl["rate"].note.startswith("the range [10, 1]") and sl["goal"].note == ""
    from smartspec_dsl.cli import main
    assert main(["check", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: {path}:19:1: 'rate': the range [10, 1] in its units field is ignored: "
                        "its minimum is above its maximum"]


def test_documentation_causes_and_uses(explorer):
    doc = {d["name"]: d for d in explorer.documentation()}
    assert doc["inflow"]["equation"] == "inflow = rate * (goal - level)"
    assert doc["inflow"]["causes"] == ["goal", "level", "rate"]
    assert doc["inflow"]["uses"] == ["level"]
    assert doc["level"]["causes"] == ["inflow"]
    assert doc["level"]["equation"] == "level = INTEG(inflow, 5)"
    assert (doc["level"]["units"], doc["level"]["comment"], doc["level"]["group"]) == \
        ("widgets [0, ?]", "What is kept.", "Stocks")


def test_sketch_of_the_teacup():
    # teacup.mdl's sketch, read by hand: the stock (1), a cloud (2), the valve (5) with its
    # flow's name (6), two constants (7, 8); the flow's two pipe segments from the valve
    # (to the cloud with a head, to the stock without), and three causal arrows
    from conftest import shared_path
    from smartspec_dsl.frontend.parse import read_model_text
    from smartspec_dsl.frontend.sketch import read_sketch
    (view,) = read_sketch(read_model_text(shared_path("test-models", "samples", "teacup", "teacup.mdl")))
    assert view.name == "View 1"
    assert {i: (n.kind, n.name, n.x, n.y, n.box) for i, n in view.nodes.items()} == {
        1: ("variable", "Teacup Temperature", 307, 235, True), 2: ("cloud", "", 479, 235, False),
        5: ("valve", "", 408, 235, False), 6: ("variable", "Heat Loss to Room", 408, 251, False),
        7: ("variable", "Room Temperature", 469, 304, False), 8: ("variable", "Characteristic Time", 408, 174, False)}
    assert [(a.start, a.end, a.points, a.head) for a in view.arrows] == [
        (5, 2, ((441, 235),), True), (5, 1, ((374, 235),), False), (8, 5, ((408, 198),), True),
        (1, 6, ((340, 296),), True), (7, 6, ((437, 284),), True)]


def test_sketch_skips_what_it_cannot_read():
    from smartspec_dsl.frontend.sketch import read_sketch
    text = ("x = 1 ~~|\n\\\\\\---/// Sketch information\nV300\n*Main\n$192-192-192,0,|12||\n"
            "10,1,x,10,20,30,8,8,3,0,0,0,0,0,0\n10,2,broken\n12,3,0,5,5,10,10,8,4,0,0,0,0,0,0\n"
            "10,4,a comment's text is not an object\n1,5,1,9,0,0,43,0,0,0,0,-1--1--1,,1|(0,0)|\n///---\\\\\\\n")
    (view,) = read_sketch(text)
    assert list(view.nodes) == [1]
    assert [(a.start, a.end, a.points, a.polarity) for a in view.arrows] == [(1, 9, (), "+")]
    assert read_sketch("x = 1 ~~|\n") == []


def test_a_taken_port_is_a_clear_error(explorer):
    pytest.importorskip("tornado")
    from smartspec_dsl.errors import ModelError
    from smartspec_dsl.explore.server import Server
    first = Server(explorer, 0).start()
    try:
        with pytest.raises(ModelError, match=rf"cannot listen on 127\.0\.0\.1:{first.port}: .*try --port"):
            Server(explorer, first.port).start()
    finally:
        first.stop()


def test_the_command_serves_until_ctrl_c(explorer):
    """`smartspec explore MODEL --port 0 --no-browser`: one line with the address on
    stderr, the page and its API there (127.0.0.1 only), Ctrl-C ends it with status 0."""
    pytest.importorskip("tornado")
    import json
    import os
    import signal
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path
    model = explorer.model.path      # compiled already: the kernel cache serves it
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "smartspec_dsl.cli", "explore", str(model), "--port", "0",
                             "--no-browser"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        assert line.startswith(f"smartspec explore: {model} at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        assert '<script src="/static/explore.js">' in page
        info = json.load(urllib.request.urlopen(url + "api/model", timeout=10))
        assert [c["name"] for c in info["constants"]] == ["rate", "goal"]
        assert urllib.request.urlopen(url + "static/vendor/uPlot.iife.min.js", timeout=10).status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        code = proc.wait(timeout=20)
    assert code == 0 and "stopped" in rest and "Traceback" not in rest


def test_a_job_in_flight_does_not_keep_the_process_alive():
    """The worker running the page's requests is a daemon thread: the process ends (as on
    Ctrl-C) while a call that would take a minute is still running on it."""
    import subprocess
    import sys
    import time
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    code = ("import sys, time; sys.path.insert(0, %r)\n"
            "from smartspec_dsl.explore.server import Worker\n"
            "w = Worker(); f = w.submit(time.sleep, 60); time.sleep(0.2)\n"
            "assert f.running(); w.shutdown(wait=False, cancel_futures=True); print('left')\n") % str(root)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50)
    assert out.returncode == 0 and out.stdout == "left\n", out.stderr
    assert time.monotonic() - started < 30


def test_the_worker_runs_calls_in_order():
    from smartspec_dsl.explore.server import Worker
    w = Worker()
    try:
        futures = [w.submit(pow, 2, k) for k in range(5)] + [w.submit(int, "x")]
        assert [f.result(10) for f in futures[:5]] == [1, 2, 4, 8, 16]
        with pytest.raises(ValueError):
            futures[5].result(10)
    finally:
        w.shutdown()


def test_a_body_too_large_is_a_json_message(explorer):
    pytest.importorskip("tornado")
    import http.client
    import json
    from smartspec_dsl.explore.server import MAX_BODY, Server
    server = Server(explorer, 0).start()
    try:
        def post(body: bytes, chunked=False):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                headers = {"Content-Type": "application/json"}
                if chunked:
                    conn.request("POST", "/api/run", body=iter([body[i:i + 65536] for i in
                                                                 range(0, len(body), 65536)]),
                                 headers=headers, encode_chunked=True)
                else:
                    conn.request("POST", "/api/run", body=body, headers=headers)
                res = conn.getresponse()
                return res.status, res.read()
            except (BrokenPipeError, ConnectionResetError):
                pytest.fail("the server closed the connection without an answer")
            finally:
                conn.close()
        big = b'{"values": {}, "pad": "' + b"x" * MAX_BODY + b'"}'
        for chunked in (False, True):
            status, text = post(big, chunked)
            assert status == 413 and json.loads(text) == {"error": "the request's body is larger than 4 MiB"}
        status, text = post(b'{"values": {"goal": 1' + b"0" * 400 + b'}}')
        assert status == 400 and "is not a finite number" in json.loads(text)["error"]
        status, text = post(b'{"values": {"goal": 60}, "variables": ["level"]}')
        assert status == 200 and set(json.loads(text)["series"]) == {"level"}
    finally:
        server.stop()


def test_a_missing_model_is_one_line(capsys):
    from smartspec_dsl.cli import main
    assert main(["explore", "no-such-model.mdl", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no-such-model.mdl: cannot read model") and len(err.splitlines()) == 1


def test_an_xmile_model_is_documented_in_vensim_terms():
    pytest.importorskip("defusedxml")
    from conftest import shared_path
    ex = Explorer(load(shared_path("test-models", "samples", "teacup", "teacup.xmile")))
    doc = {d["name"]: d for d in ex.documentation()}
    assert doc["Heat Loss to Room"]["equation"] == \
        "Heat Loss to Room = ((Teacup Temperature) - (Room Temperature)) / (Characteristic Time)"
    assert doc["Teacup Temperature"]["equation"] == "Teacup Temperature = INTEG(-(Heat Loss to Room), 180)"
    assert doc["Teacup Temperature"]["causes"] == ["Heat Loss to Room"]
    assert ex.sketch() == []          # an XMILE file's diagram is not read (yet)
    assert sorted(ex.sliders) == ["characteristic time", "room temperature"]
