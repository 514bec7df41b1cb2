"""DELAY BATCH, DELAY CONVEYOR, DELAY PROFILE and the QUEUE functions, each against
values derived by hand from Vensim's help page of the function (quoted at each test),
on both tiers (the interpreter and the compiled kernel give the same numbers, bit for
bit). Where the help leaves a behaviour open the test says what smartspec chose.

The functions share one model (one compile per tier)."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

from smartspec_dsl.errors import ModelError
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes.units import check_units

from conftest import check, equations, load_text


MODEL = equations(
    # DELAY BATCH(input, bsize, btime, inibatch, initime, inibacklog)
    "batch in = 10",
    "db plain = DELAY BATCH(batch in, 30, 3, 0, 0, 0)",
    "db initial = DELAY BATCH(batch in, 30, 3, 5, 2, 25)",
    "db at start = DELAY BATCH(0, 30, 3, 7, 0, 0)",
    "db half step = DELAY BATCH(batch in, 30, 2.5, 0, 0, 0)",
    "db under half = DELAY BATCH(batch in, 30, 2.4, 0, 0, 0)",
    "db initime half = DELAY BATCH(0, 30, 3, 7, 1.5, 0)",
    "fixed half step = DELAY FIXED(PULSE(3, 1), 2.5, 0)",
    "fixed under half = DELAY FIXED(PULSE(3, 1), 2.4, 0)",
    "assembly = 40",
    "return from anodize = DELAY BATCH(assembly, 100, 3, 100, 2, 20)",
    # DELAY CONVEYOR(input, ctime, leak, initprofile, inittot, initctime)
    "flat((0, 1), (1, 1))",
    "rising((0, 0), (1, 1))",
    "conv in = Time",
    "conv time = 3",
    "conv = DELAY CONVEYOR(conv in, conv time, 0, flat, 30, conv time)",
    "conv faster = DELAY CONVEYOR(0, 3, 0, flat, 30, 6)",
    "conv leak = DELAY CONVEYOR(10, 2, 0.1, flat, 0, 2)",
    "conv speed = DELAY CONVEYOR(10 * PULSE(0, 1), IF THEN ELSE(Time < 2, 4, 2), 0, flat, 0, 4)",
    "conv rising = DELAY CONVEYOR(0, 2, 0, rising, 8, 2)",
    # QUEUE FIFO(inflow, outflow, profile, initial, age range) and its QUEUE AGE functions
    "arriving = IF THEN ELSE(Time < 4, 10, 0)",
    "servicing = IF THEN ELSE(Time >= 6, 5, 0)",
    "waiting = QUEUE FIFO(arriving, servicing, flat, 20, 2)",
    "age average = QUEUE AGE AVERAGE(waiting, 0)",
    "age average one = QUEUE AGE AVERAGE(waiting)",
    "age oldest 15 = QUEUE AGE AVERAGE(waiting, 15)",
    "age in range = QUEUE AGE IN RANGE(waiting, 2, :NA:)",
    "age oldest = QUEUE AGE OLDEST(waiting)",
    # the Modeling Guide's order processing (queue1.mdl's formulation), orders 20 a step
    "new orders = 20",
    "Work In Progress = QUEUE FIFO(new orders, shipped orders, flat, 100, 3)",
    "shipped orders = MIN(processing capacity, QUEUE AGE IN RANGE(Work In Progress, "
    "minimum processing time, 1e+009) / TIME STEP)",
    "processing capacity = 50",
    "minimum processing time = 2",
    "average cycle time = QUEUE AGE AVERAGE(Work In Progress, 0)",
    # QUEUE FIFO ATTRIB(in, out, inatt, attchg, profile, aprofile, init, initatt, age range): the
    # help's example of QUEUE ATTRIB QUANTITY, orders of size 2, a capacity of 30 items a step
    "orders = 10",
    "order size = 2",
    "capacity = 30",
    "in process = QUEUE FIFO ATTRIB(orders, completions, order size, 0, flat, flat, 100, 1, 10)",
    "completions = QUEUE ATTRIB QUANTITY(in process, capacity * TIME STEP) / TIME STEP",
    "mean size = QUEUE ATTRIB AVERAGE(in process, -1)",
    "aging = QUEUE FIFO ATTRIB(5, 0, 7, 2, flat, flat, 0, 1, 1)",
    "aging attribute = QUEUE ATTRIB AVERAGE(aging, 0)",
    "aging age = QUEUE AGE AVERAGE(aging, 0)",
    "shaped = QUEUE FIFO ATTRIB(0, 0, 0, 0, flat, rising, 40, 3, 4)",
    "shaped attribute = QUEUE ATTRIB AVERAGE(shaped)",
    "shaped oldest attribute = QUEUE ATTRIB AVERAGE(shaped, 10)",
    # DELAY PROFILE(profile, input, delay time, init, init grow)
    "flat2((0, 1), (2, 1))",
    "dp pulse = DELAY PROFILE(flat2, 8 * PULSE(0, 1), 2, 0, 0)",
    "dp steady = DELAY PROFILE(flat2, 4, 2, 4, 0)",
    "dp grow = DELAY PROFILE(flat2, 4 * EXP(0.1 * Time), 2, 4, 0.1)",
    "dp rising = DELAY PROFILE(rising, 9 * PULSE(0, 1), 2, 0, 0)",
    "INITIAL TIME = 0", "FINAL TIME = 12", "TIME STEP = 1", "SAVEPER = TIME STEP",
)
T = np.arange(0.0, 13.0)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_text(tmp_path_factory.mktemp("queues"), MODEL)


def both_tiers(model, **kw):
    """The run on the interpreter, checked bit for bit against the compiled kernel's."""
    fast = model.run(tier="interpreter", **kw)
    assert fast.tier == "interpreter", model.interpreter_unsupported
    ref = model.run(tier="compiled", **kw)
    np.testing.assert_array_equal(fast.values, ref.values)
    return fast


@pytest.fixture(scope="module")
def run(model):
    return both_tiers(model)


def pulses(at: dict[int, float]) -> np.ndarray:
    out = np.zeros_like(T)
    for k, x in at.items():
        out[k] = x
    return out


def test_delay_batch_collects_batches_and_returns_each_after_btime(run):
    # fn_delay_batch: "Batches are not released for processing until the amount of material
    # accumulated is at least bsize and no batch is currently being processed"; "a zero is
    # returned for all times a batch is not being completed". 10 a step: the backlog reaches
    # 30 at time 3, that batch is returned at 3 + 3 = 6 as 30 / TIME STEP; the next backlog
    # of 30 (times 4-6) starts at 6, when the kiln is free again, and so on.
    check(run, "db plain", pulses({6: 30.0, 9: 30.0, 12: 30.0}))


def test_delay_batch_initial_batch_and_backlog(run):
    # "The initial batch in process is specified by inibatch and is returned at initime. The
    # initial amount of material already accumulated for processing is specified by
    # inibacklog." 5 returned at 2; the backlog 25 + 10 + 10 = 45 >= 30 starts a batch at 2
    # (the process is free from then), returned at 5; 15 + 30 = 45 again at 5, returned at 8 ...
    check(run, "db initial", pulses({2: 5.0, 5: 30.0, 8: 30.0, 11: 30.0}))
    # "If initime is less than or equal to the initial time for the simulation then inibatch
    # is returned when the simulation starts."
    check(run, "db at start", pulses({0: 7.0}))


def test_delay_batch_btime_between_time_steps_rounds_as_delay_fixed(run):
    # "the time at which a batch is completed ... is determined by the value of btime when
    # the batch started": a batch starting at 3 with btime 2.5 completes at 5.5, between two
    # TIME STEPs. Chosen where the help is open: it is returned at the nearest TIME STEP, a
    # half step rounding up (never before 5.5), as DELAY FIXED rounds a delay of 2.5 to 3
    # steps and one of 2.4 to 2: one rule for the discrete delays.
    check(run, "fixed half step", pulses({6: 1.0}))
    check(run, "db half step", pulses({6: 30.0, 9: 30.0, 12: 30.0}))
    check(run, "fixed under half", pulses({5: 1.0}))
    check(run, "db under half", pulses({5: 30.0, 8: 30.0, 11: 30.0}))
    # the initial batch's initime rounds the same way: 1.5 -> 2
    check(run, "db initime half", pulses({2: 7.0}))


def test_delay_batch_help_example(run):
    # the help's example, DELAY BATCH(assembly, 100, 3, 100, 2, 20), with assembly = 40 a
    # step: the initial 100 at 2, then a batch of 100 every 3 steps (the backlog grows by 20
    # each cycle: 120 arrive per 100 processed). Chosen where the help is open: a batch is
    # exactly bsize ("collected into batches of size bsize"), the rest waits.
    check(run, "return from anodize", pulses({2: 100.0, 5: 100.0, 8: 100.0, 11: 100.0}))


def test_delay_conveyor_initial_profile_then_the_input_ctime_later(run):
    # fn_delay_conveyor: "Returns the value of input delayed by conveyence time ctime"; "The
    # initial amount of material on the conveyor is giving by inittot and is distributed
    # according the the time profile in the Lookup initprofile. The initial value returned
    # by the function ... is equal to inittot/initctime". 30 flat over 3: 10 at 0, 1, 2;
    # then the input of time j (j) at j + 3.
    check(run, "conv", np.concatenate([[10.0, 10.0, 10.0], T[:-3]]))


def test_delay_conveyor_rescales_the_profile(run):
    # mgu09_initialization_of_conveyors: "Vensim automatically scales both the domain and
    # range of the profile so that the total amount of material and the total initial
    # conveyance time matches". A rising profile over 2 steps: its areas over [0, 0.5] and
    # [0.5, 1] are 1/8 and 3/8 of 1/2, so 8 leaves as 2 then 6.
    check(run, "conv rising", pulses({0: 2.0, 1: 6.0}))


def test_delay_conveyor_leakage(run):
    # "When leak is nonzero than the amount of material is decreased proportionally across
    # the entire conveyor, including newly added input": 10 enters, 10% a step leaks from
    # the step it enters, 10 x 0.9 x 0.9 leaves 2 steps later.
    check(run, "conv leak", np.concatenate([[0.0, 0.0], np.full(11, 8.1)]))


def test_delay_conveyor_speeds_up_with_ctime(run):
    # "You can speed up or slow down a conveyor by changing ctime": the pulse entering at 0
    # travels 1/4 of the conveyor a step while ctime is 4 (steps 0, 1), then 1/2 a step:
    # it arrives at 3, not at 4. Chosen: a parcel leaves at the first step its travel
    # reaches the whole conveyor (a ctime between steps rounds up; one step at least).
    check(run, "conv speed", pulses({3: 10.0}))


def test_delay_conveyor_conveyance_time_set_by_a_run(model):
    # ctime and initctime (which sizes the initial profile and the kernel's buffer) from the
    # run's own value, without recompiling: 30 over 6 steps is 5 a step for 6 steps, then
    # the input of time j at j + 6
    got = both_tiers(model, params={"conv time": 6})
    check(got, "conv", np.concatenate([np.full(6, 5.0), T[:-6]]))


def test_delay_conveyor_initial_material_moves_at_the_current_speed(run):
    # "initctime is normally, but does not have to be, equal to ctime": 30 laid out over 6
    # (5 a step's length) on a conveyor running at 3 comes off twice as fast: 5 at 0 (the
    # help's inittot/initctime), then 10, 10, and the last 5 at 3; 30 in all.
    check(run, "conv faster", pulses({0: 5.0, 1: 10.0, 2: 10.0, 3: 5.0}))


def test_queue_fifo_is_a_level(run):
    # fn_queue_fifo: "Defines a variable to be a Level with the specified inflow, outflow
    # and initial value": 20, +10 a step to time 4, -5 a step from time 6
    level = [20, 30, 40, 50, 60, 60, 60, 55, 50, 45, 40, 35, 30]
    check(run, "waiting", np.array(level, dtype=float))


def test_queue_age_functions(run):
    # "At the initial time the content of the queue (initial) is distributed over age TIME
    # STEP to age range + TIME STEP with a profile": 20 over age range 2 is 10 aged 1 and 10
    # aged 2 (chosen: one part of the profile per TIME STEP of the age range). Each step's
    # 10 enters aged 0, so is aged 1 a step later; the outflow takes the oldest first.
    ages = {0: [(10, 2), (10, 1)], 1: [(10, 3), (10, 2), (10, 1)]}
    for t, parcels in ages.items():
        amount = sum(a for a, _ in parcels)
        assert run["age average"][t] == pytest.approx(sum(a * g for a, g in parcels) / amount, rel=1e-12)
    # fn_queue_age_average: "the average age of the oldest quant elements": at 1, the 10
    # aged 3 and 5 of those aged 2
    assert run["age oldest 15"][1] == pytest.approx((10 * 3 + 5 * 2) / 15, rel=1e-12)
    check(run, "age average one", run["age average"])   # quant omitted: all of the queue
    # at 6 the queue holds every entry (none left yet): 10 aged 8 and 7, 10 aged 6, 5, 4, 3
    assert run["age average"][6] == pytest.approx(np.mean([8, 7, 6, 5, 4, 3]), rel=1e-12)
    # fn_queue_age_in_range: "at least as old as minage and not older than maxage ... :NA:
    # in place of ... maxage": all but the newest step's 10 (which is aged 1)
    check(run, "age in range", np.array(run["waiting"]) - np.where(T <= 4, 10.0, 0.0))
    # fn_queue_age_oldest: the oldest entry, 2 at the start, one older a step; from 6 the
    # outflow of 5 a step takes half an entry a step, so the oldest age holds every other step
    check(run, "age oldest", np.array([2, 3, 4, 5, 6, 7, 8, 9, 9, 10, 10, 11, 11], dtype=float))


def test_queue_feeds_its_own_outflow(run):
    # the Modeling Guide's queue1.mdl formulation: shipped orders = MIN(capacity, what has
    # waited the minimum processing time / TIME STEP). 100 initially over ages 1, 2, 3: 66.7
    # is old enough, 50 ship; then 16.7 + 33.3 = 50; then each step's 20 ships when aged 2.
    check(run, "Work In Progress", np.array([100, 70] + [40] * 11, dtype=float))
    check(run, "shipped orders", np.array([50, 50] + [20] * 11, dtype=float))
    third = 100 / 3
    first = (third * (3 + 2 + 1)) / 100
    second = ((2 * third - 50) * 3 + third * 2 + 20 * 1) / 70   # 16.7 aged 3, 33.3 aged 2, 20 aged 1
    check(run, "average cycle time", np.array([first, second] + [1.5] * 11))


def test_queue_attrib_quantity_help_example(run):
    # fn_queue_attrib_quantity: "Returns the oldest elements in queue such that the sum of
    # their total attributes add up to quant"; "If there is not enough in the queue to meet
    # the target quant then the total amount in the queue will be returned". 100 initially
    # in 10 entries of attribute 1: 30 a step leave; once the orders of size 2 are reached,
    # 15 a step, until only the last step's 10 (attributes 20 < 30) is left.
    check(run, "completions", np.array([30, 30, 30, 20, 15, 15, 15, 15] + [10] * 5, dtype=float))
    check(run, "in process", np.array([100, 80, 60, 40, 30, 25, 20, 15] + [10] * 5, dtype=float))
    # QUEUE ATTRIB AVERAGE(queue, -1): the mean over all of it (-1 as the Modeling Guide uses
    # it; chosen to read quant as QUEUE AGE AVERAGE does)
    check(run, "mean size", np.array([1, 90 / 80, 80 / 60, 70 / 40] + [2] * 9, dtype=float))


def test_queue_attributes_change_by_attchg(run):
    # fn_queue_fifo_attrib: "The change in attributes is applied both to the elements that are
    # already in the queue, and to the incoming elements. The change rate is multiplied by TIME
    # STEP before being added": 5 enter with 7 at each step, aged 1 they carry 9, aged 2 11...:
    # the mean of 9, 11, ..., 7 + 2t is t + 8. An empty queue (at 0) gives 0.
    check(run, "aging attribute", np.concatenate([[0.0], T[1:] + 8]))
    # the QUEUE AGE functions read an attribute queue too: ages 1 .. t
    check(run, "aging age", np.concatenate([[0.0], (T[1:] + 1) / 2]))


def test_queue_initial_attribute_profile(run):
    # "specifying the initial attribute value initatt and a multiplier for this attribute
    # aprofile that is applied over age range ... the y values of aprofile are used directly":
    # 40 as 4 entries of 10 aged 1 .. 4, attributes 3 x rising at each part's middle (chosen):
    # 3 x 0.125, 0.375, 0.625, 0.875, the oldest (aged 4) the largest
    check(run, "shaped attribute", np.full_like(T, 1.5))
    check(run, "shaped oldest attribute", np.full_like(T, 3 * 0.875))


def test_delay_profile_spreads_a_pulse_over_the_rescaled_profile(run):
    # fn_delay_profile: "The delay time specified is the average delay time"; "Vensim will
    # automatically scale this to a probability distribution so that the input is a conserved
    # quantity". flat2 is uniform on [0, 2] (mean 1): with delay time 2 the response is
    # uniform over 4 time units, so 8 leaves as 2 in each of the 4 steps after it entered.
    # Chosen where the help is open: what emerges during a step is output at that step's end.
    check(run, "dp pulse", pulses({1: 2.0, 2: 2.0, 3: 2.0, 4: 2.0}))
    # rising, density 2x on [0, 1], has mean 2/3: x stands for 3 time units; its areas over
    # thirds are 1/9, 3/9, 5/9 of 9
    check(run, "dp rising", pulses({1: 1.0, 2: 3.0, 3: 5.0}))


def test_delay_profile_initial_growth(run):
    # "Since the DELAY PROFILE distributes values over time when it is initialized you can
    # specify an initial growth rate": the pipeline starts as if the input had been init x
    # exp(init grow x (t - INITIAL TIME)) before the run (chosen: continuous growth), so an
    # input that goes on growing so gives a smooth output from the start:
    # sum over j = 1..4 of 1/4 x 4 exp(0.1 (t - j)). Without growth, a constant input at init
    # is in equilibrium.
    want = np.exp(0.1 * T) * sum(np.exp(-0.1 * j) for j in range(1, 5))
    check(run, "dp grow", want)
    check(run, "dp steady", np.full_like(T, 4.0))


def _model(*lines):
    return equations(*lines, "INITIAL TIME = 0", "FINAL TIME = 4", "TIME STEP = 1", "SAVEPER = TIME STEP")


@pytest.mark.parametrize("line,message", [
    ("x = QUEUE AGE OLDEST(y)", "QUEUE AGE OLDEST's first argument must be the name of a variable defined by "
                                "QUEUE FIFO or QUEUE FIFO ATTRIB"),
    ("x = QUEUE ATTRIB AVERAGE(y)", "QUEUE ATTRIB AVERAGE's first argument must be the name of a variable "
                                    "defined by QUEUE FIFO ATTRIB"),
    ("x = DELAY CONVEYOR(1, 2, 0, y, 4, 2)", "DELAY CONVEYOR's argument 4 must be the name of a lookup"),
    # fn_queue_fifo: "Restrictions: QUEUE FIFO must appear directly after the = sign"
    ("x = 2 * QUEUE FIFO(1, 0, y, 0, 1)", "QUEUE FIFO must be the whole equation of its variable"),
])
def test_misused_queue_and_conveyor_are_located_errors(tmp_path, line, message):
    text = _model(line, "y = 3")
    with pytest.raises(ModelError, match=r":\d+:\d+: " + message):
        load_text(tmp_path, text)


def test_units_of_queues_and_conveyors():
    text = textwrap.dedent("""\
        flat((0, 1), (1, 1)) ~ Dmnl ~|
        orders = 20 ~ Widget/Day ~|
        shipped = 10 ~ Widget/Day ~|
        backlog = QUEUE FIFO(orders, shipped, flat, 100, 3) ~ Widget ~|
        cycle time = QUEUE AGE AVERAGE(backlog, 0) ~ Day ~|
        old ones = QUEUE AGE IN RANGE(backlog, 2, :NA:) ~ Widget ~|
        wrong = QUEUE AGE OLDEST(backlog) ~ Widget ~|
        delivered = DELAY CONVEYOR(orders, 3, 0, flat, 60, 3) ~ Widget/Day ~|
        batches = DELAY BATCH(orders, 100, 3, 0, 0, 0) ~ Widget/Day ~|
        INITIAL TIME = 0 ~ Day ~|
        FINAL TIME = 4 ~ Day ~|
        TIME STEP = 1 ~ Day ~|
        SAVEPER = 1 ~ Day ~|
        """)
    issues = [str(i) for i in check_units(parse_model(text, "u.mdl"))]
    assert len(issues) == 1 and "'wrong' its equation gives day" in issues[0], issues
