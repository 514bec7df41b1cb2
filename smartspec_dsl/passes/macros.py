"""Macro expansion (the pass before stateful lowering; the order of all passes is in
pipeline.py): every call of a macro gets its own hidden copy of the macro's variables."""
from __future__ import annotations

from dataclasses import replace

from .. import ir
from ..errors import ModelError
from ..ir.builtins import ARRAY, BUILTINS, KERNEL, RANDOM_DRAW

Ref, Call = ir.Ref, ir.Call


def rename(e: ir.Expr | None, names: dict[str, str], dims: tuple[str, ...] | None = None) -> ir.Expr | None:
    """A macro body's expression for one call: its inputs and local variables renamed to
    the call's copies; `name$` is the model's own variable `name` (Vensim's help, "Macros").
    `dims`: the ranges of the array equation that calls the macro (passes/dense.py), which
    the copies share: a reference to one of them reads the element being computed."""
    def outer(name: str) -> str:
        return names.get(name, name[:-1].strip() if name.endswith("$") else name)

    def visit(node):
        if isinstance(node, Ref):
            if dims is not None and node.name in names:
                return Ref(names[node.name], dims, node.pos)
            return replace(node, name=outer(node.name))
        if isinstance(node, ir.LookupCall):
            return replace(node, table=outer(node.table))
        if isinstance(node, Call) and node.func.endswith("$") and len(node.args) == 1:
            # the model's lookup `table$(x)`: the parser saw a call, the model knows a lookup
            return ir.LookupCall(ir.canonical_name(node.func[:-1]), node.args[0], node.pos)
        return node
    return None if e is None else ir.map_expr(e, visit)


MAX_MACRO_CALLS = 20_000


def _macro_display(macro: ir.Macro) -> str:
    """The macro's name as the modeller wrote it (its output variable's spelling), else in
    capitals, as Vensim shows a function."""
    return next((v.display for v in macro.variables if v.name == macro.name), macro.name.upper())


def _check_macro_recursion(model: ir.Model) -> None:
    """A macro that calls itself, directly or through other macros, would expand
    forever (Vensim refuses it too): an error naming the macros of the cycle."""
    calls = {}
    for name, macro in model.macros.items():
        exprs = [e for v in macro.variables for e in (v.expr, v.initial) if e is not None]
        calls[name] = {ir.canonical_name(n.func) for e in exprs for n in ir.walk(e)
                       if isinstance(n, Call) and ir.canonical_name(n.func) in model.macros}
    state: dict[str, int] = {}           # 1: on the current path, 2: finished
    for start in calls:
        if start in state:
            continue
        path, todo = [], [(start, iter(sorted(calls[start])))]
        state[start] = 1
        path.append(start)
        while todo:
            name, it = todo[-1]
            nxt = next(it, None)
            if nxt is None:
                state[name] = 2
                todo.pop()
                path.pop()
            elif state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                macro = model.macros[nxt]
                shown = " -> ".join(_macro_display(model.macros[n]) for n in cycle)
                raise ModelError(f"{macro.pos}: macro '{_macro_display(macro)}' calls itself ({shown}); "
                                 "a macro cannot be recursive")
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                todo.append((nxt, iter(sorted(calls[nxt]))))


OUTPUT = "@MACRO OUTPUT"      # a macro call's extra output, until expand_macros gives its equation


def declare_macro_outputs(model: ir.Model) -> ir.Model:
    """Each extra output of a macro call, `NAME(a : x)`, declared as a model variable before
    the arrays pass, over the subscripts of the equation that calls the macro. Vensim's help
    ("Macros") calls a macro as any function, with subscripted values, and leaves open what
    the outputs of a call in an array equation are; here, as the call runs once per element,
    each element's call gives that element of x, so that x[r] binds and flattens as any array
    does. Its equation is a placeholder (OUTPUT) that `expand_macros` replaces with the call's
    copy of the output. An output named like a model variable, or by two calls for one
    element, is defined twice."""
    if not model.macros:
        return model
    declared: dict[str, ir.Variable] = {}
    for var in model.variables.values():
        exprs = [(d, d.expr) for d in var.definitions] or [(None, var.expr), (None, var.initial)]
        for d, e in exprs:
            for node in ir.walk(e) if e is not None else ():
                if not (isinstance(node, Call) and node.outputs and ir.canonical_name(node.func) in model.macros):
                    continue
                for display in node.outputs:
                    name = ir.canonical_name(display)
                    if name in model.variables:
                        raise ModelError(f"{node.pos}: '{display}' is defined twice: by this call of macro "
                                         f"'{_macro_display(model.macros[ir.canonical_name(node.func)])}' and "
                                         f"at {model.variables[name].pos}")
                    subs, excepts = (d.subscripts, d.excepts) if d is not None else ((), ())
                    placeholder = Call(OUTPUT, (), node.pos)
                    defn = ir.Definition(subs, excepts, "=", placeholder, pos=node.pos)
                    old = declared.get(name)
                    if old is not None and not (subs and old.definitions[0].subscripts):
                        raise ModelError(f"{node.pos}: '{display}' is defined twice: by this call and by the "
                                         f"call at {old.pos}")
                    declared[name] = ir.Variable(
                        name, display, ir.Kind.AUXILIARY, expr=None if subs else placeholder, pos=node.pos,
                        dims=old.dims if old is not None else subs,
                        definitions=(old.definitions if old is not None else ()) + (defn,))
    return replace(model, variables={**model.variables, **declared}) if declared else model


def expand_macros(model: ir.Model) -> ir.Model:
    """Copy a macro's equations for each call, inputs bound to the call's arguments.

    A macro's variables are local to it: each call site gets its own hidden
    copies (stocks included), named after the call. A macro may call macros.
    A macro with extra outputs, `:MACRO: NAME(in1 : out1, out2)`, called as
    `NAME(a : x, y)` defines the model variables x and y as the call's out1, out2."""
    def no_outputs(node):
        if isinstance(node, Call) and node.outputs and ir.canonical_name(node.func) not in model.macros \
                and node.func != "DELAYP":
            raise ModelError(f"{node.pos}: {node.func}(... : {', '.join(node.outputs)}): only a "
                             "macro call names extra outputs after ':'")
        return node

    if not model.macros:
        for var in model.variables.values():
            for e in (var.expr, var.initial):
                if e is not None:
                    ir.map_expr(e, no_outputs)
        return model
    _check_macro_recursion(model)
    count = 0
    done: dict[str, ir.Variable] = {}
    filled: dict[str, ir.Expr] = {}        # an extra output (declare_macro_outputs) -> its equation
    rank = {name: i for i, name in enumerate(model.variables)}   # a copy's element: its caller's
    work = list(model.variables.values())
    while work:
        var = work.pop()
        added: list[ir.Variable] = []
        array, element = ir.split_element(var.name)
        calls = 0

        def visit(node):
            nonlocal count, calls
            if not (isinstance(node, Call) and ir.canonical_name(node.func) in model.macros):
                return no_outputs(node)
            macro = model.macros[ir.canonical_name(node.func)]
            if len(node.args) != len(macro.params):
                raise ModelError(f"{node.pos}: macro '{_macro_display(macro)}' takes {len(macro.params)} "
                                 f"arguments, got {len(node.args)}")
            if node.outputs and len(node.outputs) != len(macro.outputs):
                raise ModelError(f"{node.pos}: macro '{_macro_display(macro)}' has {len(macro.outputs)} extra "
                                 f"outputs after ':', the call names {len(node.outputs)}")
            count += 1
            if count > MAX_MACRO_CALLS:
                raise ModelError(f"{macro.pos}: macro calls expand to more than {MAX_MACRO_CALLS:,} "
                                 f"copies (while expanding '{_macro_display(macro)}'); macros calling macros "
                                 "several times each multiply: call them fewer times")
            # the copy is named by its caller and the call's place in the caller's equation (so
            # that a run replacing another equation names it alike, and a saved state continues
            # it); an element's copy (`y[e1]`, flattened) is the element of the dense route's
            # copy for the array: `name #call1(y) local[e1]`
            calls += 1
            prefix = f"{macro.name} #call{calls}({array})"
            where = f" at {node.pos.line}:{node.pos.column}" if node.pos is not None else ""
            shown = f"(in macro {macro.name.upper()} called by {var.display}{where})"
            names = {p: f"{prefix} {p}{element}" for p in macro.params}
            names.update({v.name: f"{prefix} {v.name}{element}" for v in macro.variables})
            rank.update((n, rank[var.name]) for n in names.values())
            # a call in a dense array's equation: one copy, an array over the same ranges
            dims = var.dims
            for p, arg in zip(macro.params, node.args):
                added.append(ir.Variable(names[p], f"{p} {shown}", ir.Kind.AUXILIARY, expr=arg,
                                         pos=node.pos, hidden=True, dims=dims))
            for body in macro.variables:
                expr = rename(body.expr, names, dims)
                if expr is not None and body.definitions and body.definitions[0].operator == ":=":
                    # a data equation (`Y :RAW: := input`): passes/data_equations.py
                    expr = ir.data_equation(expr, body.definitions[0].keyword, body.pos)
                added.append(replace(body, name=names[body.name], display=f"{body.display} {shown}",
                                     expr=expr, initial=rename(body.initial, names, dims), hidden=True,
                                     dims=dims))
            if macro.name not in names:
                raise ModelError(f"{macro.pos}: macro '{_macro_display(macro)}' does not define its output "
                                 f"(an equation '{_macro_display(macro)} = ...' inside it)")
            for local, display in zip(macro.outputs, node.outputs):
                if local not in names:
                    raise ModelError(f"{macro.pos}: macro '{_macro_display(macro)}' does not define its "
                                     f"output '{local}'")
                # the element of the output this call gives: the calling element's own
                name = ir.canonical_name(display)
                at = var.name.find("[")
                if at > 0 and name + var.name[at:] in model.variables:
                    name += var.name[at:]
                target = model.variables.get(name)
                if target is None or not _is_output(target) or name in filled:
                    raise ModelError(f"{node.pos}: '{display}' is defined twice: by this call of "
                                     f"macro '{_macro_display(macro)}' and elsewhere")
                filled[name] = Ref(names[local], dims, node.pos)
            return Ref(names[macro.name], dims, node.pos)

        expr = None if var.expr is None else ir.map_expr(var.expr, visit)
        initial = None if var.initial is None else ir.map_expr(var.initial, visit)
        done[var.name] = replace(var, expr=expr, initial=initial)
        work.extend(added)
    for name, expr in filled.items():
        done[name] = replace(done[name], expr=expr)
    unfilled = next((v for v in done.values() if _is_output(v)), None)
    if unfilled is not None:
        raise ModelError(f"{unfilled.pos}: '{unfilled.display}' is an extra output of a macro call that "
                         "does not give it")
    # the model's own variables in their order (as output columns), then the call copies, the
    # elements of an array's copy in element order (the order that numbers their random draws)
    ordered = {n: done.pop(n) for n in model.variables}
    first = {}
    for n in done:
        first.setdefault(ir.split_element(n)[0], len(first))
    copies = sorted(done, key=lambda n: (first[ir.split_element(n)[0]], rank[n]))
    return replace(model, variables={**ordered, **{n: done[n] for n in copies}}, macros={})


def _is_output(var: ir.Variable) -> bool:
    """Whether `var` is a macro call's extra output not given its equation yet."""
    return isinstance(var.expr, Call) and var.expr.func == OUTPUT


def _pure(e: ir.Expr | None, macros) -> bool:
    """Whether `e` keeps no state and draws no number: only numbers, references and the
    kernel's functions of their arguments (no stateful, random, array or macro call, no lookup)."""
    for n in ir.walk(e) if e is not None else ():
        if isinstance(n, ir.LookupCall):
            return False
        if isinstance(n, Call):
            b = BUILTINS.get(n.func)
            if ir.canonical_name(n.func) in macros or b is None or b.stage != KERNEL or b.emit == RANDOM_DRAW \
                    or n.func in ARRAY or n.func.startswith("RANDOM"):
                return False
    return True


def _body(macro: ir.Macro, macros) -> ir.Expr | None:
    """The output of a macro that keeps no state, as one expression of its inputs (its locals
    substituted), or None for a macro that keeps state, draws numbers or has extra outputs."""
    local = {v.name: v for v in macro.variables}
    if macro.outputs or macro.name not in local or any(
            v.kind not in (ir.Kind.AUXILIARY, ir.Kind.CONSTANT) or v.initial is not None or v.lookup is not None
            or any(d.operator == ":=" or d.subscripts for d in v.definitions) or not _pure(v.expr, macros)
            for v in local.values()):
        return None
    done: dict[str, ir.Expr] = {}

    def inline(name: str, path: tuple) -> ir.Expr | None:
        if name in path:
            return None                     # a loop: expansion and ordering report it
        if name not in done:
            parts = {}
            for n in ir.references(local[name].expr):
                if n in local:
                    parts[n] = inline(n, path + (name,))
                    if parts[n] is None:
                        return None
            done[name] = ir.map_expr(local[name].expr, lambda node: parts[node.name] if isinstance(
                node, Ref) and node.name in parts else node)
        return done[name]
    return inline(macro.name, ())


def inline_pure_macros(model: ir.Model) -> ir.Model:
    """Every call of a macro that keeps no state and draws no number (`ROUND(x, interval)`),
    with arguments that do neither, replaced by the macro's output expression of its
    arguments: the value each call's copy of the macro's variables would compute
    (`expand_macros`), with the same operations, and no hidden variable. The dense route
    (passes/dense.py) runs it first, so that such a call is an expression wherever an
    array equation may hold one, a piece of a piecewise array too."""
    bodies = {name: _body(m, model.macros) for name, m in model.macros.items()}
    if not any(bodies.values()):
        return model

    def visit(node):
        if not isinstance(node, Call):
            return node
        name = ir.canonical_name(node.func)
        body, macro = bodies.get(name), model.macros.get(name)
        if body is None or node.outputs or len(node.args) != len(macro.params) \
                or not all(_pure(a, model.macros) for a in node.args):
            return node
        args = dict(zip(macro.params, node.args))
        return ir.map_expr(rename(body, {}), lambda n: args[n.name] if isinstance(n, Ref) and n.name in args else n)

    def inlined(e):
        return None if e is None else ir.map_expr(e, visit)
    variables = {n: replace(v, expr=inlined(v.expr), initial=inlined(v.initial),
                            definitions=tuple(replace(d, expr=inlined(d.expr)) for d in v.definitions))
                 for n, v in model.variables.items()}
    return replace(model, variables=variables)
