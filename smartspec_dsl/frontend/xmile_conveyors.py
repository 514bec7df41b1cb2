"""Stella's conveyors (XMILE 1.0, section 3.7.2) onto Vensim's DELAY CONVEYOR, where the
two mean the same: a conveyor stock with a transit time (`<len>`) and one outflow, its
output, and nothing else. Material entering at time t leaves at t + len (whole DTs, as
DELAY CONVEYOR counts them); the stock's initial value starts spread evenly along the
conveyor (a continuous conveyor), so it leaves at initial / len a unit of time during
the first len. The stock itself stays a stock of its inflows less its output.

What DELAY CONVEYOR cannot say is refused where the file says it, naming the conveyor:
leakage (more outflows than the output: Stella leaks a fraction of what enters, by
zones, which Vensim's leak rate does not), capacity, an inflow limit, sampling or
arresting the transit time, discrete conveyors (batches a unit of time), and queues and
ovens, whose batches Vensim's QUEUE FIFO does not keep as Stella does."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from .xmile_expr import display_name, xmile_name
from .xmile_xml import Node

DISCRETE_STOCKS = ("conveyor", "queue", "oven")


def discrete_kind(node: Node) -> str:
    """'conveyor', 'queue' or 'oven' when `node` is one of Stella's discrete stocks, else ''."""
    if node.tag in DISCRETE_STOCKS:
        return node.tag
    if node.tag == "stock":
        return next((k for k in DISCRETE_STOCKS if node.find(k) is not None), "")
    return ""


def conveyor_output(node: Node, prefix: str) -> str:
    """The output flow of the conveyor stock `node` (its one outflow, with the module's
    `prefix`), after checking that DELAY CONVEYOR can say what the conveyor says."""
    name = display_name(node.attrs.get("name", node.tag))
    kind = discrete_kind(node)
    if kind != "conveyor" or node.tag != "stock":
        article = "an" if kind == "oven" else "a"
        raise UnsupportedFeature(f"{node.pos}: '{name}' is {article} {kind}, which is not supported (Stella's "
                                 "queues and ovens keep batches as Vensim's QUEUE FIFO does not)")
    conv = node.find("conveyor")
    if conv.find("len") is None or not conv.find("len").text.strip():
        raise ModelError(f"{conv.pos}: conveyor '{name}' has no transit time (<len>)")
    if conv.attrs.get("discrete", "false").strip().lower() == "true":
        raise UnsupportedFeature(f"{conv.pos}: conveyor '{name}' is discrete (batches a unit of time), "
                                 "which is not supported")
    for child in conv.children:
        if child.tag != "len" and child.text.strip():
            raise UnsupportedFeature(f"{child.pos}: conveyor '{name}' has a <{child.tag}> (capacity, inflow "
                                     "limit, sampling or arrest), which is not supported")
    if node.find("eqn") is None:
        raise UnsupportedFeature(f"{node.pos}: conveyor '{name}' sets its elements' initial values one by "
                                 "one, which is not supported")
    outs = node.findall("outflow")
    if len(outs) != 1:
        raise UnsupportedFeature(f"{node.pos}: conveyor '{name}' has {len(outs)} outflows: leakage (any "
                                 "outflow after the first) is not supported, and a conveyor needs its output")
    return prefix + xmile_name(outs[0].text)


def conveyor_call(inflows: list[ir.Expr], length: ir.Expr, initial: ir.Expr, profile: str, pos) -> ir.Expr:
    """The output of a conveyor of transit time `length` fed by `inflows`, starting with
    `initial` spread evenly (`profile`: a flat lookup) along it."""
    total: ir.Expr = ir.Num(0.0)
    for f in inflows:
        total = f if total == ir.Num(0.0) else ir.BinOp("+", total, f)
    return ir.Call("DELAY CONVEYOR", (total, length, ir.Num(0.0), ir.Ref(profile, (), pos), initial, length), pos)


def flat_profile(name: str, display: str, pos) -> ir.Variable:
    """A flat initial profile: the initial content spread evenly along the conveyor."""
    table = ir.LookupTable((0.0, 1.0), (1.0, 1.0))
    return ir.Variable(name, f"the initial profile of conveyor {display}", ir.Kind.LOOKUP, lookup=table,
                       pos=pos, hidden=True, definitions=(ir.Definition((), (), "", None, lookup=table, pos=pos),))
