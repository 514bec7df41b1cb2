"""The XMILE front end: an XMILE 1.0 file (.xmile, .stmx, .itmx, as Stella,
iThink and other tools save them) -> the same model IR as the Vensim front end.

What the OASIS XMILE 1.0 standard defines and this reads: sim_specs (start,
stop, dt with `reciprocal`, save_step, method), dimensions (named elements or
a size), stocks (inflows, outflows, `non_negative`), flows (`non_negative`
makes a uniflow), auxiliaries, graphical functions (`<gf>`: xpts or xscale,
ypts, type continuous / extrapolate / discrete), apply-to-all and
per-element array equations, units, documentation, modules (`<module>`
with `<connect>`, also as Stella writes them), flattened into one model whose
names carry the module path (`hares.births`), and macros (`<macro>`: parameters
with defaults, variables of their own) as the IR's macros, and conveyors that
Vensim's DELAY CONVEYOR can run (xmile_conveyors.py). Other conveyors, queues,
ovens and macros with their own <sim_specs> are reported as unsupported,
located at their element.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from ..files import read_regular_file
from .xmile_builtins import Context, translate
from .xmile_conveyors import conveyor_call, conveyor_output, discrete_kind, flat_profile
from .xmile_expr import display_name, parse_equation, xmile_name
from .xmile_stocks import flow_refs, limit_outflows, left_for, non_negative, stock_rate
from .xmile_xml import Node, read_xml

CONTROL_DISPLAY = {"initial time": "INITIAL TIME", "final time": "FINAL TIME",
                   "time step": "TIME STEP", "saveper": "SAVEPER"}
VARIABLE_TAGS = ("stock", "flow", "aux", "gf")


@dataclass
class _Var:
    """One variable element of one module instance, before translation."""
    node: Node
    name: str                      # canonical, with the instance's prefix
    display: str
    prefix: str                    # 'hares.' inside module hares, '' at the top
    dims: tuple[str, ...]
    alias: ir.Expr | None = None   # set by a module connection: the value comes from outside


@dataclass
class _Build:
    root: Node
    dims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    written: dict[str, tuple[str, ...]] = field(default_factory=dict)  # elements as written
    dim_names: dict[str, str] = field(default_factory=dict)   # dimension -> its name as written
    models: dict[str, Node] = field(default_factory=dict)
    vars: dict[str, _Var] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)   # ir.Model.notices
    connections: list = field(default_factory=list)     # (<connect>, module, where it sits)
    # outflow -> (the non-negative stock it alone drains, the outflows served before it,
    # the stock's inflows counted as available)
    limits: dict = field(default_factory=dict)
    conveyors: dict = field(default_factory=dict)   # a conveyor's output flow -> the conveyor
    subranges: dict = field(default_factory=dict)   # ranges A[1:3] make (xmile_arrays.Context)
    mappings: dict = field(default_factory=dict)


def _numbers(node: Node, what: str) -> list[float]:
    sep = node.attrs.get("sep", ",")
    try:
        return [float(x) for x in node.text.replace("\n", " ").split(sep) if x.strip()]
    except ValueError:
        raise ModelError(f"{node.pos}: {what} must be numbers separated by '{sep}': "
                         f"{node.text.strip()[:60]}") from None


def _number(node: Node, what: str) -> float:
    try:
        return float(node.text.strip())
    except ValueError:
        raise ModelError(f"{node.text_pos or node.pos}: {what} must be a number, "
                         f"got '{node.text.strip()[:40]}'") from None


def _table(gf: Node, owner: str, notices: list[str]) -> tuple[ir.LookupTable, str]:
    """A graphical function's points and its type (continuous, extrapolate, discrete)."""
    ypts = gf.find("ypts")
    if ypts is None:
        raise ModelError(f"{gf.pos}: the graphical function of '{owner}' has no <ypts>")
    ys = _numbers(ypts, "ypts")
    if gf.find("xpts") is not None:
        xs = _numbers(gf.find("xpts"), "xpts")
    else:
        scale = gf.find("xscale")
        if scale is None or "min" not in scale.attrs or "max" not in scale.attrs:
            raise ModelError(f"{gf.pos}: the graphical function of '{owner}' needs <xpts> or "
                             "<xscale min=... max=...>")
        lo, hi = float(scale.attrs["min"]), float(scale.attrs["max"])
        n = len(ys)
        xs = [lo + (hi - lo) * i / (n - 1) for i in range(n)] if n > 1 else [lo]
    if len(xs) != len(ys) or not ys:
        raise ModelError(f"{gf.pos}: the graphical function of '{owner}' has {len(xs)} x values "
                         f"and {len(ys)} y values")
    kind = gf.attrs.get("type", "continuous").lower()
    if gf.attrs.get("discrete", "").lower() == "true":
        kind = "discrete"
    if kind not in ("continuous", "extrapolate", "discrete"):
        raise ModelError(f"{gf.pos}: graphical function type '{kind}' of '{owner}' is not one of "
                         "continuous, extrapolate, discrete")
    table, notice = ir.table_in_x_order(zip(xs, ys), gf.pos, f"the graphical function of '{owner}'")
    if notice:
        notices.append(notice)
    return table, kind


def _apply_table(table: str, kind: str, x: ir.Expr, pos, subs: tuple[str, ...] = ()) -> ir.Expr:
    """A graphical function (element `subs` of an arrayed one) applied: interpolated
    within its points and flat beyond them (continuous), extended along its end
    segments (extrapolate), or held at the last point at or before x (discrete)."""
    if kind == "continuous":
        return ir.LookupCall(table, x, pos, tuple(subs))
    func = "LOOKUP EXTRAPOLATE" if kind == "extrapolate" else "LOOKUP BACKWARD"
    return ir.Call(func, (ir.Ref(table, tuple(subs), pos), x), pos)


# ---- reading the file ------------------------------------------------------------

def _sim_specs(b: _Build) -> dict[str, float]:
    specs = b.root.find("sim_specs")
    if specs is None:
        raise ModelError(f"{b.root.pos}: the file has no <sim_specs> (start, stop and dt)")
    out = {}
    for tag, name in (("start", "initial time"), ("stop", "final time"), ("dt", "time step")):
        node = specs.find(tag)
        if node is None:
            if tag == "dt":
                out[name] = 1.0  # the standard's default
                continue
            raise ModelError(f"{specs.pos}: <sim_specs> has no <{tag}>")
        value = _number(node, f"<{tag}>")
        if tag == "dt" and node.attrs.get("reciprocal", "").lower() == "true":
            if value == 0:
                raise ModelError(f"{node.pos}: a reciprocal dt of 0")
            value = 1.0 / value
        out[name] = value
    # the save interval when the file gives one; else a SAVEPER of the model's (what a
    # converted Vensim model carries), else every dt (_controls)
    save = specs.find("save_step") or specs.find("savestep")
    if save is not None:
        out["saveper"] = _number(save, "<save_step>")
    elif "save_interval" in specs.attrs:
        out["saveper"] = _number(Node("save_interval", {}, specs.pos, specs.attrs["save_interval"]),
                                 "save_interval")
    method = specs.attrs.get("method", "euler").lower()
    if method not in ("euler", "rk4"):
        raise UnsupportedFeature(f"{specs.pos}: integration method '{method}' is not supported "
                                 "(euler and rk4 are)")
    return out, method


def _dimensions(b: _Build) -> None:
    dims = b.root.find("dimensions")
    for dim in dims.findall("dim") if dims is not None else ():
        name = xmile_name(dim.attrs.get("name", ""))
        written = [display_name(e.attrs.get("name", "")) for e in dim.findall("elem")]
        if not written and "size" in dim.attrs:
            try:
                written = [str(i) for i in range(1, int(dim.attrs["size"]) + 1)]
            except ValueError:
                raise ModelError(f"{dim.pos}: dimension '{name}' has a size that is not a whole number") from None
        if not name or not written:
            raise ModelError(f"{dim.pos}: a dimension needs a name and elements (or a size)")
        b.dims[name] = tuple(ir.canonical_name(e) for e in written)
        b.dim_names[name] = display_name(dim.attrs["name"])
        b.written[name] = tuple(written)


def _var_dims(node: Node, b: _Build) -> tuple[str, ...]:
    dims = node.find("dimensions")
    out = tuple(xmile_name(d.attrs.get("name", "")) for d in dims.findall("dim")) if dims is not None else ()
    for d, dnode in zip(out, dims.findall("dim") if dims is not None else ()):
        if d not in b.dims:
            raise ModelError(f"{dnode.pos}: dimension '{dnode.attrs.get('name')}' is not defined "
                             "in <dimensions>")
    return out


def _instantiate(b: _Build, model: Node, prefix: str, seen: tuple[str, ...]) -> None:
    """Collect the variables of `model` (and of the modules it uses) under `prefix`."""
    variables = model.find("variables")
    # STELLA 10's XMILE drafts put the variables straight in <model>
    for node in variables.children if variables is not None else model.children:
        if discrete_kind(node) and node.tag != "stock":
            conveyor_output(node, prefix)   # refused, located
        if node.tag == "module":
            _module(b, node, prefix, seen)
        elif node.tag in VARIABLE_TAGS:
            raw = node.attrs.get("name")
            if not raw:
                raise ModelError(f"{node.pos}: a <{node.tag}> without a name")
            name = prefix + xmile_name(raw)
            if name in b.vars:
                raise ModelError(f"{node.pos}: '{display_name(raw)}' is defined twice "
                                 f"(first at {b.vars[name].node.pos})")
            b.vars[name] = _Var(node, name, prefix + display_name(raw), prefix, _var_dims(node, b))
            if discrete_kind(node):
                b.conveyors[conveyor_output(node, prefix)] = name


def _module(b: _Build, node: Node, prefix: str, seen: tuple[str, ...]) -> None:
    name = xmile_name(node.attrs.get("name", ""))
    model_name = xmile_name(node.attrs.get("model", node.attrs.get("name", "")))
    if "resource" in node.attrs:
        raise UnsupportedFeature(f"{node.pos}: module '{name}' refers to another file "
                                 f"({node.attrs['resource']}), which is not supported")
    if model_name not in b.models:
        raise ModelError(f"{node.pos}: module '{node.attrs.get('name')}' uses model "
                         f"'{model_name}', which the file does not define")
    if model_name in seen:
        raise ModelError(f"{node.pos}: module '{name}' contains itself")
    inner = f"{prefix}{name}."
    _instantiate(b, b.models[model_name], inner, seen + (model_name,))
    b.connections += [(conn, name, prefix) for conn in node.findall("connect")]


def _connect(b: _Build) -> None:
    """Each module connection makes its target take its source's value. A name is seen
    from where the module sits: 'm.x' is module m's x, '.x' the top model's x; 'to' is
    the module's own variable unless it says otherwise (an output into '.x' or, as Stella
    writes, 'm.x' for module m's input, listed in every module the connection touches)."""
    for conn, name, prefix in b.connections:
        to, src = conn.attrs.get("to", ""), conn.attrs.get("from", "")
        path = _qualified(to)
        if to.strip().startswith("."):
            target = ".".join(path)
        elif len(path) > 1 and path[0] == name:
            target = f"{prefix}{'.'.join(path)}"
        elif len(path) > 1 and f"{prefix}{name}.{'.'.join(path)}" not in b.vars:
            continue             # another module's input, connected where that module is
        else:
            target = f"{prefix}{name}.{'.'.join(path)}"
        source = ".".join(_qualified(src)) if src.strip().startswith(".") else prefix + ".".join(_qualified(src))
        if target not in b.vars:
            raise ModelError(f"{conn.pos}: module '{name}' has no variable '{to}' to connect to")
        if source not in b.vars:
            raise ModelError(f"{conn.pos}: module '{name}' is connected from '{src}', which is not "
                             "a variable of the model")
        b.vars[target].alias = ir.Ref(source, (), conn.pos)


def _qualified(text: str) -> list[str]:
    """The canonical names along a dotted path ('m."a/b".x'): a quoted part may hold dots."""
    parts = re.findall(r'"(?:[^"\\]|\\.)*"|[^."]+', text.strip())
    return [xmile_name(p) for p in parts if p.strip()]


# ---- one variable -------------------------------------------------------------------

# A converter from Vensim marks an equation it left in Vensim's words so; the function
# names keep their spaces ('LOOKUP BACKWARD(g, 2)'), which XMILE writes as underscores.
UNTRANSLATED = "{Untranslated function used}"
_VENSIM_CALL = re.compile(r"\b([A-Za-z]+(?: [A-Za-z]+)+)(?=\s*\()")


def _untranslated(text: str) -> str:
    """The equation with its multi-word Vensim function names joined by underscores (the
    same length, so positions in errors stay right); what they mean is up to the
    translation (Vensim's table functions are read, others are reported)."""
    return _VENSIM_CALL.sub(lambda m: m.group(1).replace(" ", "_"), text)


def _equation(b: _Build, v: _Var, eqn: Node, ctx: Context) -> ir.Expr:
    text = eqn.text
    if text.strip() == "???":
        raise ModelError(f"{eqn.text_pos or eqn.pos}: the equation of '{v.display}' is '???': the "
                         "program that wrote this file could not convert it, so the file is incomplete")
    if UNTRANSLATED in text:
        text = _untranslated(text)
    raw = parse_equation(text, eqn.text_pos or eqn.pos, v.display)
    local = {n[len(v.prefix):] for n in b.vars if n.startswith(v.prefix)} if v.prefix else set()

    def scope(node):
        if isinstance(node, ir.Ref) and node.name.startswith("."):
            # '.x' is the top model's x (Stella writes a module's inputs so), else this model's
            top = node.name[1:]
            name = top if top in b.vars or not v.prefix else v.prefix + top
            return ir.Ref(name, node.subscripts, node.pos)
        # a name inside a module means that module's variable
        if isinstance(node, ir.Ref) and node.name in local:
            return ir.Ref(v.prefix + node.name, node.subscripts, node.pos)
        if isinstance(node, ir.Call) and v.prefix and xmile_name(node.func) in local:
            return ir.Call((v.prefix + xmile_name(node.func)).upper(), node.args, node.pos)
        return node
    return translate(ir.map_expr(raw, scope), ctx)


def table_name(name: str) -> str:
    """The hidden lookup holding the graphical function of variable `name` (which has an
    equation too): what `name(x)` and LOOKUP(name, x) read."""
    return f"{name} #gf"


def _definition(b: _Build, v: _Var, node: Node, ctx: Context, new: dict,
                subs: tuple[str, ...] = ()) -> ir.Expr | None:
    """The value of `node` (the variable's element or one <element>, `subs`): its
    equation, through its graphical function when it has one (kept as an element of
    the variable's hidden table); the table itself when there is no equation."""
    eqn, gf = node.find("eqn"), (node if node.tag == "gf" else node.find("gf"))
    if node is not v.node:
        # an <element> takes what it leaves out from its variable: Stella writes one
        # <eqn> (the input) for per-element graphical functions
        eqn = eqn if eqn is not None else v.node.find("eqn")
        gf = gf if gf is not None else v.node.find("gf")
    if gf is not None:
        table, kind = _table(gf, v.display, b.notices)
        if eqn is None or v.node.tag == "gf":
            return table
        tname = table_name(v.name)
        held = new.get(tname)
        defs = (held.definitions if held else ()) + (ir.Definition(subs, (), "", None, lookup=table, pos=gf.pos),)
        # shown in messages by what the modeller wrote, not by its hidden name
        new[tname] = ir.Variable(tname, f"the graphical function of {v.display}", ir.Kind.LOOKUP,
                                 lookup=None if v.dims else table, pos=gf.pos, hidden=True, dims=v.dims,
                                 definitions=defs)
        return _apply_table(tname, kind, _equation(b, v, eqn, ctx), eqn.pos, subs)
    if eqn is None:
        raise ModelError(f"{node.pos}: '{v.display}' has no equation")
    return _equation(b, v, eqn, ctx)


def _variable(b: _Build, v: _Var, ctx: Context, new: dict) -> ir.Variable:
    node = v.node
    units = (node.child_text("units") or "").strip()
    doc = (node.child_text("doc") or "").strip()
    pos = node.pos
    if v.name in b.conveyors:
        return _conveyor_output(b, v, ctx, new)
    if v.alias is not None:  # a module input: the connected value, element by element
        expr = ir.Ref(v.alias.name, tuple(v.dims), v.alias.pos) if v.dims else v.alias
        defs = (ir.Definition(tuple(v.dims), (), "=", expr, pos=pos),) if v.dims else ()
        return ir.Variable(v.name, v.display, ir.Kind.AUXILIARY, expr=None if v.dims else expr,
                           units=units, comment=doc, pos=pos, dims=v.dims, definitions=defs)
    parts = _parts(b, v)
    values = []
    for subs, part in parts:
        if len(subs) != len(v.dims):
            raise ModelError(f"{part.pos}: element '{part.attrs.get('subscript')}' of '{v.display}' "
                             f"needs {len(v.dims)} subscript(s)")
        for s, d in zip(subs, v.dims):
            if s not in b.dims[d] and s != d:
                raise ModelError(f"{part.pos}: '{s}' is not an element of dimension '{d}' "
                                 f"(in '{v.display}')")
        values.append((subs, part, _definition(b, v, part, replace(ctx, subs=subs), new, subs)))
    kind = ir.Kind.AUXILIARY
    if node.tag == "stock":
        kind = ir.Kind.STOCK
    elif node.tag == "flow":
        kind = ir.Kind.FLOW
    if all(isinstance(x, ir.LookupTable) for _, _, x in values):
        kind = ir.Kind.LOOKUP
    elif any(isinstance(x, ir.LookupTable) for _, _, x in values):
        raise ModelError(f"{pos}: '{v.display}' mixes graphical functions without an equation "
                         "and equations")
    defs = []
    for subs, part, value in values:
        ppos = part.pos
        if kind is ir.Kind.STOCK:
            rate = stock_rate(b, v, subs, ppos)
            value = ir.Call("INTEG", (rate, value), ppos)
        elif kind is ir.Kind.FLOW and non_negative(b, node):
            value = ir.Call("MAX", (ir.Num(0.0), value), ppos)  # a uniflow
        if kind in (ir.Kind.FLOW, ir.Kind.AUXILIARY) and v.name in b.limits:
            # it drains a non-negative stock: never more than the stock has left for it
            value = ir.Call("MIN", (value, ir.Call("MAX", (ir.Num(0.0), left_for(b, v.name, subs, ppos)),
                                                   ppos)), ppos)
        if kind is ir.Kind.LOOKUP:
            defs.append(ir.Definition(subs, (), "", None, lookup=value, pos=ppos))
        else:
            defs.append(ir.Definition(subs, (), "=", value, pos=ppos))
    if kind is ir.Kind.AUXILIARY and all(_is_number(d.expr) for d in defs):
        kind = ir.Kind.CONSTANT
    scalar = not v.dims
    d0 = defs[0]
    expr = initial = lookup = None
    if scalar:
        if kind is ir.Kind.STOCK:
            expr, initial = d0.expr.args
        elif kind is ir.Kind.LOOKUP:
            lookup = d0.lookup
        else:
            expr = d0.expr
    return ir.Variable(v.name, v.display, kind, expr=expr, initial=initial, lookup=lookup,
                       units=units, comment=doc, pos=pos, dims=v.dims, definitions=tuple(defs))


def _conveyor_output(b: _Build, v: _Var, ctx: Context, new: dict) -> ir.Variable:
    """The output flow of a conveyor (xmile_conveyors.py): DELAY CONVEYOR of its inflows."""
    stock = b.vars[b.conveyors[v.name]]
    if v.node.tag != "flow" or v.dims != stock.dims:
        raise UnsupportedFeature(f"{v.node.pos}: '{v.display}', the output of conveyor '{stock.display}', "
                                 "must be a flow over the conveyor's dimensions")
    sctx = replace(ctx, owner=stock.display, owner_dims=stock.dims, owner_name=stock.name, subs=stock.dims)
    node = stock.node
    length = _equation(b, stock, node.find("conveyor").find("len"), sctx)
    initial = _equation(b, stock, node.find("eqn"), sctx)
    profile = f"{stock.name} #profile"
    new[profile] = flat_profile(profile, stock.display, node.pos)
    expr = conveyor_call(flow_refs(b, stock, "inflow", stock.dims), length, initial, profile, v.node.pos)
    units, doc = ((v.node.child_text(t) or "").strip() for t in ("units", "doc"))
    return ir.Variable(v.name, v.display, ir.Kind.FLOW, expr=None if v.dims else expr, units=units,
                       comment=doc, pos=v.node.pos, dims=v.dims,
                       definitions=(ir.Definition(v.dims, (), "=", expr, pos=v.node.pos),))


_NUMBER_LIST = re.compile(r"^\s*[-+]?[\d.][\d.eE+-]*(\s*[,;]\s*[-+]?[\d.][\d.eE+-]*)+\s*;?\s*$")


def _parts(b: _Build, v: _Var) -> list[tuple[tuple[str, ...], Node]]:
    """(subscripts, element holding the equation) for each definition of the variable:
    one apply-to-all part, or one per <element>. Two forms other tools write are
    read too: one <eqn> per element in order, and one <eqn> listing every element's
    number ('1, 2; 3, 4'), both in row-major order."""
    node = v.node
    elements = node.findall("element")
    if elements:
        return [(tuple(xmile_name(s) for s in e.attrs.get("subscript", "").split(",")), e) for e in elements]
    eqns = node.findall("eqn")
    if not v.dims or not eqns:
        return [(tuple(v.dims), node)]
    combos = list(itertools.product(*(b.dims[d] for d in v.dims)))
    if len(eqns) == 1 and _NUMBER_LIST.match(eqns[0].text):
        values = [x for x in re.split(r"[,;\s]+", eqns[0].text) if x]
        if len(values) != len(combos):
            raise ModelError(f"{eqns[0].text_pos or eqns[0].pos}: '{v.display}' lists {len(values)} "
                             f"values for its {len(combos)} elements")
        eqns = [Node("eqn", {}, eqns[0].pos, x, eqns[0].text_pos) for x in values]
    elif len(eqns) == 1:
        return [(tuple(v.dims), node)]
    if len(eqns) != len(combos):
        raise ModelError(f"{eqns[1].pos}: '{v.display}' has {len(eqns)} equations for its "
                         f"{len(combos)} elements")
    return [(combo, Node("element", {}, e.pos, "", e.text_pos, [e])) for combo, e in zip(combos, eqns)]


def _is_number(e) -> bool:
    return isinstance(e, ir.Num) or (isinstance(e, ir.UnaryOp) and e.op == "-" and isinstance(e.operand, ir.Num))


# ---- the model ------------------------------------------------------------------------

def _controls(b: _Build, specs: dict[str, float], variables: dict[str, ir.Variable]) -> None:
    pos = b.root.find("sim_specs").pos
    if "saveper" not in specs and "saveper" not in variables:
        specs = {**specs, "saveper": specs["time step"]}
    for name, value in specs.items():
        var = variables.get(name)
        if var is None:
            variables[name] = ir.Variable(name, CONTROL_DISPLAY[name], ir.Kind.CONSTANT,
                                          expr=ir.Num(value), pos=pos)
        elif _is_number(var.expr):
            given = var.expr.value if isinstance(var.expr, ir.Num) else -var.expr.operand.value
            if abs(given - value) > 1e-12 * max(1.0, abs(value)):
                raise ModelError(f"{var.pos}: '{var.display}' is {given:g} but <sim_specs> at {pos} "
                                 f"says {value:g}; the run follows <sim_specs>: make them agree")


def parse_xmile(data: bytes, filename: str = "<model>") -> ir.Model:
    """Read an XMILE document into the model IR. Errors (ModelError and its
    subclasses) are located FILE:LINE:COL in the XML and name the variable."""
    root = read_xml(data, filename)
    if root.tag != "xmile":
        raise ModelError(f"{root.pos}: not an XMILE file: the document element is <{root.tag}>, "
                         "not <xmile>")
    b = _Build(root)
    specs, method = _sim_specs(b)
    _dimensions(b)
    models = root.findall("model")
    if not models:
        raise ModelError(f"{root.pos}: the file has no <model>")
    # the main model is the one without a name; the others are what modules instantiate
    top = next((m for m in models if not m.attrs.get("name")), models[0])
    b.models = {xmile_name(m.attrs.get("name", "")): m for m in models if m is not top}
    _instantiate(b, top, "", ())
    _connect(b)
    limit_outflows(b)
    signatures = {xmile_name(m.attrs.get("name", "")): _signature(m) for m in root.findall("macro")}
    macros = {name: _macro(b, m, signatures) for name, m in zip(signatures, root.findall("macro"))}
    variables = _translate_all(b, b.vars, {}, signatures)
    _controls(b, specs, variables)
    ranges = {d: ir.SubscriptRange(d, els, (b.mappings[d],) if d in b.mappings else (), None,
                                   b.written.get(d, els)) for d, els in b.dims.items()}
    return ir.Model(filename, variables, ranges, macros, method=method, notices=tuple(b.notices))


def _translate_all(b: _Build, found: dict[str, _Var], params: dict,
                   signatures: dict) -> dict[str, ir.Variable]:
    """The IR variables of `found` (a model's or a macro's), with the hidden tables of
    graphical functions applied to an equation; `params` are a macro's parameters."""
    var_dims = {n: v.dims for n, v in found.items()} | {p: () for p in params}
    invalid = _invalid_index(b.root)
    lookups = {n for n, v in found.items() if v.node.tag == "gf"
               or (v.node.find("gf") is not None and v.node.find("eqn") is None)}
    # a graphical function with an input can be called with another too: name(x)
    tables = {n: table_name(n) for n, v in found.items() if n not in lookups and _has_gf(v.node)}
    # a graphical function's y values as written, which g[3] and MIN(g) read (section 3.7.1.3)
    points = {n: tuple(_numbers(gf.find("ypts"), "ypts")) for n in lookups if not found[n].dims
              for gf in [found[n].node if found[n].node.tag == "gf" else found[n].node.find("gf")]
              if gf.find("ypts") is not None}
    variables: dict[str, ir.Variable] = {}
    new: dict[str, ir.Variable] = {}
    names = {n: f.display for n, f in found.items()} | b.dim_names
    for name, v in found.items():
        ctx = Context(b.dims, var_dims, lookups, v.display, v.dims, name, signatures, invalid, tables, new,
                      subranges=b.subranges, mappings=b.mappings, notices=b.notices, points=points,
                      names=names)
        variables[name] = _variable(b, v, ctx, new)
    variables.update(new)
    return variables


def _has_gf(node: Node) -> bool:
    return node.find("gf") is not None or any(e.find("gf") is not None for e in node.findall("element"))


def _invalid_index(root: Node) -> float:
    """What a computed subscript outside its dimension gives: 0, or NaN when the header's
    <options><uses_arrays invalid_index_value="NaN"/> says so (XMILE 1.0 section 2.2.1)."""
    header = root.find("header")
    options = header.find("options") if header is not None else None
    arrays = options.find("uses_arrays") if options is not None else None
    value = arrays.attrs.get("invalid_index_value", "0") if arrays is not None else "0"
    return math.nan if value.strip().lower() == "nan" else 0.0


def _signature(node: Node) -> tuple[tuple[str, ...], tuple]:
    """A macro's parameters and their defaults (parsed equations, or None when the
    parameter must be given), XMILE 1.0 section 4.8."""
    params, defaults = [], []
    for parm in node.findall("parm"):
        name = xmile_name(parm.text)
        if not name:
            raise ModelError(f"{parm.pos}: a <parm> of macro '{node.attrs.get('name', '')}' has no name")
        params.append(name)
        default = parm.attrs.get("default")
        defaults.append(None if default is None else
                        parse_equation(default, parm.pos, f"{node.attrs.get('name', '')}: {name}"))
    return tuple(params), tuple(defaults)


def _macro(b: _Build, node: Node, signatures: dict) -> ir.Macro:
    """An XMILE macro (section 4.8) as an IR macro: its <eqn> is the value, over its
    parameters and its own <variables> (stocks included), which every call gets its own
    copy of. A macro with <sim_specs> runs a whole simulation per call: not supported."""
    raw = node.attrs.get("name", "")
    name = xmile_name(raw)
    if not name:
        raise ModelError(f"{node.pos}: a <macro> without a name")
    if node.find("sim_specs") is not None:
        raise UnsupportedFeature(f"{node.find('sim_specs').pos}: macro '{raw}' has its own <sim_specs> "
                                 "(a simulation run per call), which is not supported")
    eqn = node.find("eqn")
    if eqn is None:
        raise ModelError(f"{node.pos}: macro '{raw}' has no <eqn>")
    params = dict.fromkeys(signatures[name][0], node.pos)
    inner = _Build(b.root, b.dims, b.written, b.models, notices=b.notices)
    _instantiate(inner, node, "", ())
    _connect(inner)
    for p in params:
        if p in inner.vars:
            raise ModelError(f"{inner.vars[p].node.pos}: '{p}' is both a parameter and a variable "
                             f"of macro '{raw}'")
    if name in inner.vars:
        raise ModelError(f"{inner.vars[name].node.pos}: macro '{raw}' has a variable of its own name")
    body = _translate_all(inner, inner.vars, params, signatures)
    out = _Var(node, name, display_name(raw), "", ())
    ctx = Context(b.dims, {n: v.dims for n, v in inner.vars.items()} | {p: () for p in params},
                  set(), display_name(raw), (), name, signatures, _invalid_index(b.root))
    value = _equation(inner, out, eqn, ctx)
    body[name] = ir.Variable(name, display_name(raw), ir.Kind.AUXILIARY, expr=value, pos=eqn.pos,
                             definitions=(ir.Definition((), (), "=", value, pos=eqn.pos),))
    return ir.Macro(name, tuple(params), (), tuple(body.values()), node.pos)


def parse_xmile_file(path: str | Path) -> ir.Model:
    path = Path(path)
    data = read_regular_file(path, "model")   # the one checked read (no device, FIFO, directory)
    return parse_xmile(data, str(path))
