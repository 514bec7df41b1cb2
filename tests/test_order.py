"""The dependency order (passes/order.py) against a second implementation, networkx's
lexicographical topological sort, on random models: the same order (each equation
after what it reads, ties by the order of definition), and a loop reported exactly
when networkx finds a cycle, the one named being a real loop of the model."""
from __future__ import annotations

import re
import subprocess
import sys

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartspec_dsl.errors import AlgebraicLoop
from smartspec_dsl.frontend.parse import parse_model
from smartspec_dsl.passes import pipeline
from smartspec_dsl.passes.order import schedule

from conftest import ROOT

CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 1 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"


def ordered(text: str, dense: bool = True):
    return schedule(pipeline.lower(parse_model(text + CONTROL, "t.mdl"), dense=dense))


@st.composite
def graphs(draw, acyclic: bool):
    """Auxiliaries v0..v(n-1) written in a random order, each reading a random few others
    (only lower-numbered ones when `acyclic`): (definition order, name -> names read)."""
    n = draw(st.integers(1, 14))
    reads = {}
    for i in range(n):
        pool = list(range(i)) if acyclic else list(range(n))
        reads[f"v{i}"] = {f"v{j}" for j in draw(st.lists(st.sampled_from(pool), max_size=3))} if pool else set()
    written = draw(st.permutations(sorted(reads)))
    return written, reads


def model_text(written, reads) -> str:
    return "".join(f"{name} = TIME" + "".join(f" + {d}" for d in sorted(reads[name])) + " ~~|\n"
                   for name in written)


def networkx_order(written, reads) -> list[str]:
    g = nx.DiGraph()
    g.add_nodes_from(written)
    g.add_edges_from((d, n) for n, ds in reads.items() for d in ds)
    return list(nx.lexicographical_topological_sort(g, key=written.index))


@settings(max_examples=100, deadline=None)
@given(graphs(acyclic=True))
def test_the_order_is_networkx_lexicographical_topological_order(graph):
    written, reads = graph
    sched = ordered(model_text(written, reads))
    expected = networkx_order(written, reads)
    assert list(sched.dynamic) == expected
    assert [n for n in sched.initial if n.startswith("v")] == expected


@settings(max_examples=100, deadline=None)
@given(graphs(acyclic=False))
def test_a_loop_is_reported_exactly_when_there_is_one_and_is_a_real_loop(graph):
    written, reads = graph
    text = model_text(written, reads)
    g = nx.DiGraph([(d, n) for n, ds in reads.items() for d in ds])
    if nx.is_directed_acyclic_graph(g):
        assert list(ordered(text).dynamic) == networkx_order(written, reads)
        return
    with pytest.raises(AlgebraicLoop) as err:
        ordered(text)
    message = str(err.value)
    assert "algebraic loop (initialisation)" in message
    loop = re.findall(r"^  (v\d+) \(defined at t\.mdl:(\d+):", message, re.M)
    names = [name for name, _ in loop]
    assert names and len(set(names)) == len(names), message
    # each member reads the one before it, the first the last; each at its own line
    for before, name in zip(names[-1:] + names[:-1], names):
        assert before in reads[name], message
    assert all(int(line) == written.index(name) + 1 for name, line in loop), message
    # starting from the first written, the location of the error being its own
    assert min(names, key=written.index) == names[0]
    assert message.startswith(f"t.mdl:{written.index(names[0]) + 1}:")


def test_ties_keep_the_order_of_definition_and_an_array_its_element_order():
    text = "r: (r1-r12) ~~|\nx[r] = TIME * 2 ~~|\nb = TIME ~~|\na = b + x[r3] ~~|\n"
    # flattened per element, the elements in element order; on the dense route one array
    assert ordered(text, dense=False).dynamic == tuple(f"x[r{i}]" for i in range(1, 13)) + ("b", "a")
    assert ordered(text).dynamic == ("x", "b", "a")


def test_a_loop_through_a_stock_is_no_loop_of_the_step_but_of_the_initialisation():
    # s = INTEG(f, i); f = s / 2: the stock breaks the loop at each step
    assert ordered("s = INTEG(f, 1) ~~|\nf = s / 2 ~~|\n").dynamic == ("f",)
    with pytest.raises(AlgebraicLoop, match=r"t\.mdl:1:1: algebraic loop \(initialisation\)") as err:
        ordered("s = INTEG(f, i) ~~|\nf = s / 2 ~~|\ni = s ~~|\n")
    assert re.findall(r"^  (\w+) ", str(err.value), re.M) == ["s", "i"]


def test_loading_and_running_a_model_does_not_import_networkx(tmp_path):
    """networkx costs a fifth of a second to import; only `Model.dependencies` needs it."""
    model = tmp_path / "m.mdl"
    model.write_text("s = INTEG(f, 1) ~~|\nf = s / 2 ~~|\n" + CONTROL)
    code = ("import sys, smartspec_dsl\n"
            f"m = smartspec_dsl.load({str(model)!r}, tier='interpreter')\n"
            "assert m.run()['s'][-1] == 1.5\n"
            "print('networkx' in sys.modules)\n"
            "m.dependencies\n"
            "print('networkx' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.split() == ["False", "True"]
