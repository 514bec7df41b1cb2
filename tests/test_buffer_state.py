"""A run's final state holds the kernel buffer of DELAY FIXED, DELAY MATERIAL, DELAY
INFORMATION, DELAY CONVEYOR, DELAY PROFILE and the queues, so a run continues from it,
and the stepper steps through them, with the numbers of one run (the reference: the
same model run in one go, compared bit for bit; on both tiers, Euler and RK4). What a
state cannot continue exactly (another TIME STEP; a buffer laid out for a shorter run)
is refused, never run with other numbers.

One model holds every buffer function (one compile per tier); a second, smaller one
the functions whose buffer a longer run extends."""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from smartspec_dsl.errors import ParameterError

from conftest import equations, load_text


CONTROLS = ("INITIAL TIME = 0", "FINAL TIME = 10", "TIME STEP = 0.5", "SAVEPER = TIME STEP")
EVERY_BUFFER = equations(
    "gain = 1",
    "input = gain * (5 + Time + 3 * PULSE(2, 1))",
    "flat((0, 1), (1, 1))",
    "flat2((0, 1), (2, 1))",
    "delay = 1.5",
    "fixed = DELAY FIXED(input, delay, 2)",
    # the delay time is read once, at INITIAL TIME (1 here), not at a continued run's start
    "fixed by time = DELAY FIXED(input, 1 + Time / 4, 3)",
    "material = DELAY MATERIAL(input, IF THEN ELSE(Time < 3, 2, 1), 4, -1)",
    "information = DELAY INFORMATION(input, 1 + Time / 5, 6)",
    "conveyor = DELAY CONVEYOR(input, IF THEN ELSE(Time < 4, 2, 1), 0.05, flat, 10, 2)",
    "waiting = QUEUE FIFO(input, servicing, flat, 12, 2)",
    "servicing = MIN(8, QUEUE AGE IN RANGE(waiting, 1, 1e+009) / TIME STEP)",
    "age = QUEUE AGE AVERAGE(waiting, 0)",
    "in process = QUEUE FIFO ATTRIB(input, completions, 2, 0.1, flat, flat, 10, 1, 2)",
    "completions = QUEUE ATTRIB QUANTITY(in process, 6 * TIME STEP) / TIME STEP",
    "profile = DELAY PROFILE(flat2, input, 2, 4, 0)",
    "total = INTEG(fixed + fixed by time + material + information + conveyor + servicing + completions "
    "+ profile, 0)",
    *CONTROLS,
)
# the functions whose buffer is laid out by the step's number and never filled by a run:
# a longer run's buffer continues a shorter one's
GROWING = equations(
    "input = 5 + Time",
    "flat((0, 1), (1, 1))",
    "information = DELAY INFORMATION(input, 1 + Time / 5, 6)",
    "conveyor = DELAY CONVEYOR(input, 2, 0, flat, 10, 2)",
    "waiting = QUEUE FIFO(input, servicing, flat, 12, 2)",
    "servicing = MIN(8, QUEUE AGE IN RANGE(waiting, 1, 1e+009) / TIME STEP)",
    "in process = QUEUE FIFO ATTRIB(input, completions, 2, 0.1, flat, flat, 10, 1, 2)",
    "completions = QUEUE ATTRIB QUANTITY(in process, 6 * TIME STEP) / TIME STEP",
    "fixed = DELAY FIXED(input, 1.5, 2)",
    *CONTROLS,
)
BUFFERED = ["fixed", "fixed by time", "material", "information", "conveyor", "waiting", "in process", "profile"]
TIERS = ["interpreter", "compiled"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("buffers"), EVERY_BUFFER)


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_a_run_continues_through_every_buffer_as_one_run(model, tier, method):
    """0 -> 10 in one go equals 0 -> 3.5, then 3.5 -> 10 from the final state, bit for bit:
    every buffer (a DELAY FIXED's pipeline, a material pipeline, an information history,
    a conveyor's and the queues' parcels, a profile's outputs due) is in the state."""
    whole = model.run(tier=tier, method=method)
    assert whole.tier == tier
    first = model.run(tier=tier, method=method, until=3.5)
    state = first.final_state
    assert state.time == 3.5 and state.time_step == 0.5
    assert sorted(model.display(n).split(" (")[0] for n in state.buffers) == sorted(BUFFERED)
    rest = model.run(tier=tier, method=method, initial_condition=state)
    np.testing.assert_array_equal(rest.time, whole.time[7:])
    np.testing.assert_array_equal(rest.values, whole.values[7:])
    # the other tier lays its buffer out alike: it continues the state too
    other = model.run(tier=TIERS[1 - TIERS.index(tier)], method=method, initial_condition=state)
    np.testing.assert_array_equal(other.values, whole.values[7:])
    # every buffer function's output carries on, not restarted from its initial value
    for name in BUFFERED[:4] + ["conveyor", "profile", "completions"]:
        assert not np.array_equal(rest[name], model.run(tier=tier, method=method)[name][:len(rest.time)]), name
    # and again from that run's own final state: the end of the one run
    again = model.run(tier=tier, method=method, initial_condition=model.run(
        tier=tier, method=method, until=7, initial_condition=state).final_state)
    np.testing.assert_array_equal(again.values, whole.values[14:])


def test_a_run_continues_from_every_time_step(model):
    """Split at every time of the run, from INITIAL TIME (whose state holds the buffer as
    the initialisation laid it out) to FINAL TIME (nothing left to run), on the interpreter
    (no compile): the continued run gives the one run's rows bit for bit."""
    for method in ("euler", "rk4"):
        whole = model.run(tier="interpreter", method=method)
        for k in range(len(whole.time)):
            state = model.run(tier="interpreter", method=method, until=k * 0.5).final_state
            rest = model.run(tier="interpreter", method=method, initial_condition=state)
            np.testing.assert_array_equal(rest.values, whole.values[k:], err_msg=f"{method}, split at step {k}")


def test_stepping_gives_the_one_runs_numbers(model):
    """The stepper's steps continue each other's states: unchanged, they give one run's
    numbers; a value changed at t = 4 acts from t = 4.5 on, the numbers of the one run with
    that switch written in (here the input of every buffer function doubles)."""
    plain = model.stepper()
    for _ in range(4):
        plain.step(5)
    np.testing.assert_array_equal(plain.result.values, model.run().values)
    stepper = model.stepper()
    stepper.step(8)
    stepper.step(3, {"gain": 2})
    stepper.run_to(10)
    switched = load_text(Path(model.path).parent, EVERY_BUFFER.replace("gain = 1\n", "gain = 1 + STEP(1, 4.5)\n"))
    want = switched.run()
    np.testing.assert_array_equal(stepper.result.time, want.time)
    np.testing.assert_allclose(stepper.result.values, want.values, rtol=1e-13)
    assert not np.allclose(want["fixed"], model.run()["fixed"])


def test_a_fixed_delays_time_is_the_one_it_started_with(model):
    """DELAY FIXED reads its delay time when the run starts: a continued run's delay is the
    state's (its pipeline's length), whatever the delay time reads at the continued run's
    start ('fixed by time': 1 + Time / 4, 1 at 0, 1.875 at 3.5) or a changed constant;
    so stepping with a new delay time gives the one run's numbers, whose equation switches
    after the start, where DELAY FIXED no longer reads it."""
    whole = model.run()
    n = len(model.run(until=3.5).final_state.buffers[next(k for k in model.kernel.buffers
                                                          if model.display(k).startswith("fixed by time"))])
    assert n == 2                                   # 1 / 0.5 steps: the delay at INITIAL TIME
    np.testing.assert_array_equal(whole["fixed by time"][2:], whole["input"][:-2])
    stepper = model.stepper()
    stepper.step(8, {"delay": 3})                  # from t = 0.5 on: after the start
    stepper.run_to(10)
    got = stepper.result
    assert got["delay"][-1] == 3
    for name in BUFFERED + ["total"]:
        np.testing.assert_array_equal(got[name], whole[name])
    np.testing.assert_array_equal(whole["fixed"][3:], whole["input"][:-3])   # 1.5: 3 steps
    # the delay time given to a continued run is shown, not used: said, located, by name
    assert {w.variable for w in got.warnings if w.kind == "state"} == {"fixed"}, got.warnings
    state = model.run(until=3.5, tier="interpreter").final_state
    same = model.run(initial_condition=state, params={"delay": 1.6, "gain": 2}, tier="interpreter")
    assert not [w for w in same.warnings if w.kind == "state"], same.warnings   # 1.6 is 3 steps too
    longer = model.run(initial_condition=state, params={"delay": 3}, tier="interpreter")
    [kept] = [w for w in longer.warnings if w.kind == "state"]
    assert kept.message == (f"{model.path}:27:9: DELAY FIXED in the equation of 'fixed' reads its delay time when "
                            "a run starts, and this run continues a state: it keeps the state's delay (1.5); the "
                            "delay time this run's 'delay' = 3 gives (3) is not used (run from the start to use it)")
    np.testing.assert_array_equal(longer["fixed"], whole["fixed"][7:])


def test_a_saved_state_keeps_its_buffers(model, tmp_path):
    """A final state written to disk (pickle) and read back continues as the one run."""
    state = model.run(until=6).final_state
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps(state))
    back = pickle.loads(path.read_bytes())
    assert set(back.buffers) == set(state.buffers)
    for k in state.buffers:
        np.testing.assert_array_equal(back.buffers[k], state.buffers[k])
    np.testing.assert_array_equal(model.run(initial_condition=back).values, model.run().values[12:])


def test_a_state_that_cannot_continue_exactly_is_refused(model, tmp_path):
    """Another TIME STEP lays the buffer out otherwise; a buffer laid out for a run to FINAL
    TIME 4 (DELAY MATERIAL's pipeline and DELAY PROFILE's outputs due, which drop what is
    due after it) cannot continue a run to 10: both refused, with what to do instead."""
    state = model.run(until=4).final_state
    with pytest.raises(ParameterError, match=r"holds values a TIME STEP of 0.5 apart, and this run's TIME STEP "
                                             r"is 0.25: a run continuing a state keeps its TIME STEP"):
        model.run(initial_condition=state, time_step=0.25)
    short = model.run(final_time=4).final_state
    with pytest.raises(ParameterError, match=r"^\S+\.mdl:\d+:\d+: the buffer of DELAY MATERIAL in the equation of 'material' is laid out"
                                             r".*made by a run to FINAL "
                                             r"TIME 4\), .* in this run \(to FINAL TIME 10\).*until= rather than "
                                             r"final_time="):
        model.run(initial_condition=short)
    # a state of another model
    other = load_text(tmp_path, GROWING)
    with pytest.raises(ParameterError, match="is not one of this model's"):
        other.run(initial_condition=state)


@pytest.mark.parametrize("tier", TIERS)
def test_a_longer_run_extends_a_history_and_parcels(tmp_path_factory, tier):
    """DELAY INFORMATION's history, a conveyor's and the queues' parcels are laid out by the
    step's number and a run never fills its buffer: a state of a run to FINAL TIME 4
    (PySD's `run(final_time=4)`, then `initial_condition='current'`) continues in the
    longer buffer of a run to 10 with the one run's numbers."""
    model = load_text(tmp_path_factory.mktemp("growing"), GROWING)
    whole = model.run(tier=tier)
    model.run(tier=tier, final_time=4)
    rest = model.run(tier=tier, initial_condition="current")
    np.testing.assert_array_equal(rest.values, whole.values[8:])


def test_a_buffer_whose_time_step_changes_during_the_run_is_refused(tmp_path):
    """With TIME STEP changing during the run the steps have no number from INITIAL TIME,
    which the buffer is laid out by."""
    model = load_text(tmp_path, equations("d = DELAY FIXED(Time, 2, 0)", "INITIAL TIME = 0", "FINAL TIME = 4",
                                 "TIME STEP = IF THEN ELSE(Time < 2, 1, 0.5)", "SAVEPER = TIME STEP"))
    with pytest.raises(ParameterError, match=r"^\S+\.mdl:\d+:\d+: the buffer of DELAY FIXED in the equation of 'd' is laid out by the time "
                                             r"step's number, "
                                             r"and TIME STEP, FINAL TIME or SAVEPER changes during this run: a run cannot continue"):
        model.run(initial_condition=model.run(until=2).final_state)



def test_a_run_ending_between_saved_times_is_not_continued_with_mixed_times(tmp_path):
    """A run to 3.5 with SAVEPER 1 saves its last row at 3: its stocks are those of 3, its
    DELAY FIXED buffer has moved on to 3.5. Continuing from it would count half a step twice
    (s at 8 came out 72.75; the one run, by hand: out(t) = inp(t - 3), s(8) = 66.25), so it is
    refused; a run ending on a saved time continues to the one run's numbers. (What the state
    records is the runtime's, whichever tier ran: the interpreter, no compile.)"""
    tier = "interpreter"
    m = load_text(tmp_path, equations("inp = STEP(10, 1) + Time", "out = DELAY FIXED(inp, 3, 5)", "s = INTEG(out, 0)",
                             "INITIAL TIME = 0", "FINAL TIME = 8", "TIME STEP = 0.5", "SAVEPER = 1"))
    one = m.run(tier=tier)
    assert one["s"][-1] == pytest.approx(66.25, abs=1e-12)
    for state in (m.run(final_time=3.5, tier=tier).final_state, m.run(until=3.5, tier=tier).final_state):
        assert state.time == 3.0
        with pytest.raises(ParameterError, match=r"went on to t = 3.5 .* stocks are those of t = 3 and the "
                                                 r"buffer of DELAY FIXED in the equation of 'out' that of t = 3.5"):
            m.run(initial_condition=state, tier=tier)
    rest = m.run(initial_condition=m.run(final_time=3, tier=tier).final_state, tier=tier)
    np.testing.assert_array_equal(rest["s"], one["s"][3:])



SIZED_BY_AN_ARGUMENT = [
    ("prof = DELAY PROFILE(rising, input, 1 + Time / 4, 1, 0.1)",
     "the buffer of DELAY PROFILE in the equation of 'prof' is sized, when a run starts, by its argument "
     "'delay time': 1 at INITIAL TIME 0 (its 168 values in the state), 2.25 at this run's start (time 5: "
     "183 values); a run continuing a state keeps its buffer, so DELAY PROFILE cannot continue a state "
     "when that argument changes between the two starts: run from the start"),
    ("conv = DELAY CONVEYOR(input, 2, 0, flat, 10, 3 - Time / 4)",
     "the buffer of DELAY CONVEYOR in the equation of 'conv' is sized, when a run starts, by its argument "
     "'initctime': 3 at INITIAL TIME 0 (its 192 values in the state), 1.75 at this run's start (time 5: "
     "177 values); a run continuing a state keeps its buffer, so DELAY CONVEYOR cannot continue a state "
     "when that argument changes between the two starts: run from the start"),
]


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("call, message", SIZED_BY_AN_ARGUMENT)
def test_a_buffer_sized_by_an_argument_that_varies_is_refused_naming_it(tmp_path, tier, call, message):
    """DELAY PROFILE's region is the run's steps plus its delay time's, read when a run starts
    (kernel_queues.parcels_size: 3 + 3 * (steps + 3 + span / TIME STEP) values): with a delay
    time of 1 + Time / 4 a run from 0 to 12 by 0.25 lays out 3 + 3 * (51 + 4) = 168 values, a
    run continuing at 5 (delay time 2.25) 3 + 3 * (51 + 9) = 183, though the first run ended
    with until=: refused at the call naming the argument, both values and both sizes. A
    conveyor's region is sized by its initctime alike (3 at 0: 192 values; 1.75 at 5: 177, too
    short for the state's parcels)."""
    model = load_text(tmp_path, equations("rising((0, 0), (1, 1))", "flat((0, 1), (1, 1))", "input = 10 + Time",
                                          call, "INITIAL TIME = 0", "FINAL TIME = 12", "TIME STEP = 0.25",
                                          "SAVEPER = 0.25"))
    first = model.run(tier=tier, until=5).final_state
    with pytest.raises(ParameterError) as refused:
        model.run(tier=tier, initial_condition=first)
    where, _, said = str(refused.value).partition(": ")
    assert said == message
    assert re.fullmatch(r"\S+\.mdl:\d+:8", where)   # at the call
