"""The stock-and-flow diagram of a Vensim model, from its sketch section
(`frontend.sketch`), as the page draws it: per view, the nodes with the model's
name and kind of each variable, and the arrows, each a flow pipe (between a valve
and a stock or cloud) or a causal link."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError
from ..frontend.parse import read_model_text
from ..frontend.sketch import read_sketch


def diagram(model) -> list[dict]:
    """[{name, nodes: [...], arrows: [...]}] for the page (GET /api/sketch); [] for a
    model with no sketch (an XMILE file, a .mdl written by hand)."""
    path = str(model.path)
    if not path.lower().endswith(".mdl"):
        return []
    try:
        views = read_sketch(read_model_text(path))
    except ModelError:
        return []
    variables = model.ir.variables
    outputs = {ir.canonical_name(model.display(n)) for n in model.output_names}
    out = []
    for view in views:
        nodes = []
        for node in view.nodes.values():
            item = {"id": node.id, "kind": node.kind, "x": node.x, "y": node.y, "w": node.w, "h": node.h}
            if node.kind == "variable":
                key = ir.canonical_name(node.name)
                var = variables.get(key)
                item.update(name=var.display if var is not None else node.name,
                            type=var.kind.value if var is not None else "",
                            box=node.box or (var is not None and var.kind is ir.Kind.STOCK),
                            shadow=node.shadow, plotted=key in outputs)
            nodes.append(item)
        kinds = {n["id"]: ("stock" if n.get("box") else n["kind"]) for n in nodes}
        arrows = []
        for a in view.arrows:
            if a.start not in kinds or a.end not in kinds:
                continue
            ends = {kinds[a.start], kinds[a.end]}
            pipe = "valve" in ends and bool(ends & {"stock", "cloud"})
            arrows.append({"from": a.start, "to": a.end, "points": [list(p) for p in a.points],
                           "pipe": pipe, "polarity": a.polarity, "head": a.head})
        if nodes:
            out.append({"name": view.name, "nodes": nodes, "arrows": arrows})
    return out
