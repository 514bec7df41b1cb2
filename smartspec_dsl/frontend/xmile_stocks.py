"""Stocks and flows of an XMILE model: a stock's rate from its inflows and outflows,
and Stella's non-negative stocks and uniflows (XMILE 1.0, section 3.1 and the
`non_negative` option), over the variables `xmile.py` collected: `b` is its `_Build` (the file's variables, `b.vars`,
and the cut outflows, `b.limits`), `v` one of its `_Var`s, `node` an XML element."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError
from .xmile_expr import xmile_name


def flow_refs(b, v, tag: str, subs) -> list[ir.Expr]:
    out = []
    for n in v.node.findall(tag):
        name = v.prefix + xmile_name(n.text)
        if name not in b.vars:
            raise ModelError(f"{n.text_pos or n.pos}: {tag} '{n.text.strip()}' of stock '{v.display}' "
                             "is not a variable of the model")
        out.append(ir.Ref(name, tuple(subs) if b.vars[name].dims else (), n.pos))
    return out


def non_negative(b, node) -> bool:
    """Stella's non-negative stocks and uniflows: the element's own <non_negative>
    (any text but 'false'), else the file's <behavior> for all stocks or flows."""
    nn = node.find("non_negative")
    if nn is not None:
        return nn.text.strip().lower() != "false"
    behavior = b.root.find("behavior")
    if behavior is None:
        return False
    kind = behavior.find(node.tag)
    return any(x is not None and x.find("non_negative") is not None and
               x.find("non_negative").text.strip().lower() != "false" for x in (behavior, kind))


def limit_outflows(b) -> None:
    """Stella's non-negative stocks cut their outflows back, in outflow order, to what
    the stock holds plus what flows in within the step, so no material is made: each
    outflow that drains only that stock (with its dimensions) gets the reduced value,
    which whatever it flows into receives. A flow draining several stocks keeps its
    value; the stock's own rate is still cut at what it holds (stock_rate). Inflows
    that are themselves cut outflows of another stock are not counted as available
    (that would make the two cuts depend on each other within the step)."""
    drains: dict[str, list[str]] = {}
    for name, v in b.vars.items():
        if v.node.tag == "stock":
            for n in v.node.findall("outflow"):
                drains.setdefault(v.prefix + xmile_name(n.text), []).append(name)
    cut = {f for f, stocks in drains.items() if len(stocks) == 1 and f in b.vars and b.vars[f].alias is None
           and non_negative(b, b.vars[stocks[0]].node) and b.vars[f].dims == b.vars[stocks[0]].dims}
    for name, v in b.vars.items():
        if v.node.tag != "stock" or not non_negative(b, v.node):
            continue
        outs = [v.prefix + xmile_name(n.text) for n in v.node.findall("outflow")]
        ins = [f for f in (v.prefix + xmile_name(n.text) for n in v.node.findall("inflow")) if f not in cut]
        for k, f in enumerate(outs):
            if f in cut:
                b.limits[f] = (name, outs[:k], ins)


def left_for(b, flow: str, subs, pos) -> ir.Expr:
    """What the non-negative stock `flow` drains can still give it per unit of time:
    its contents / dt, plus its inflows, less the outflows served before."""
    stock, before, ins = b.limits[flow]

    def ref(name):
        return ir.Ref(name, tuple(subs) if b.vars[name].dims else (), pos)
    left: ir.Expr = ir.BinOp("/", ref(stock), ir.Ref("time step", (), pos))
    for f in ins:
        left = ir.BinOp("+", left, ref(f))
    for f in before:
        left = ir.BinOp("-", left, ref(f))
    return left


def stock_rate(b, v, subs, pos) -> ir.Expr:
    rate: ir.Expr | None = None
    for ref in flow_refs(b, v, "inflow", subs):
        rate = ref if rate is None else ir.BinOp("+", rate, ref)
    for ref in flow_refs(b, v, "outflow", subs):
        rate = ir.UnaryOp("-", ref) if rate is None else ir.BinOp("-", rate, ref)
    if rate is None:
        rate = ir.Num(0.0)
    if non_negative(b, v.node):
        # the stock cannot fall below zero within one step: its net outflow is cut to what it holds
        me = ir.Ref(v.name, tuple(subs), pos)
        rate = ir.Call("MAX", (rate, ir.BinOp("/", ir.UnaryOp("-", me), ir.Ref("time step", (), pos))), pos)
    return rate
