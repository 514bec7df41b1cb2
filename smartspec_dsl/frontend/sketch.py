"""The sketch section of a Vensim .mdl file (after `\\\\\\---///`): the views of the
stock-and-flow diagram, with the position of every variable, valve and cloud and the
arrows between them. The equations never depend on it (Vensim: "do not put anything
below this section - it will be ignored"), so a line that does not read as an object is
skipped rather than refused; `read_sketch` only draws.

The format, one object a line, comma-separated, as Vensim writes it:

    *View 1                                 a view's name
    10,id,name,x,y,w,h,shape,bits,...       a variable at centre (x, y), half-size (w, h);
                                            shape 3 a stock's box; an even `bits` a shadow
                                            (a variable placed from another view)
    11,id,0,x,y,w,h,...                     a valve (the flow's rate sits beside it)
    12,id,48,x,y,w,h,...                    a cloud (a flow's source or sink); with name 0,
                                            a comment whose text is the next line
    1,id,from,to,shape,hidden,polarity,thickness,...,n|(x,y)|...
                                            an arrow from object `from` to `to` through
                                            its n points ((0,0): straight); shape 100
                                            a flow pipe's segment without a head
    ///---\\\\\\                             the end of the sketch
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from .parse import SKETCH_MARKER

_END = "///---\\\\\\"
_POINT = re.compile(r"\((-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)\)")


@dataclass(frozen=True)
class Node:
    """A variable (`kind` "variable", with its `name` as written), valve or cloud: centre
    (x, y) and half-size (w, h) in the view's pixels."""
    id: int
    kind: str
    x: float
    y: float
    w: float
    h: float
    name: str = ""
    box: bool = False        # drawn as a stock's box
    shadow: bool = False     # a shadow (ghost) variable


@dataclass(frozen=True)
class Arrow:
    """An arrow from node `start` to node `end` through `points` (the curve's control
    points, or a flow pipe's corners); `polarity` "+", "-" or ""."""
    id: int
    start: int
    end: int
    points: tuple[tuple[float, float], ...] = ()
    polarity: str = ""
    head: bool = True        # an arrowhead at `end` (a flow pipe's tail segment has none)


@dataclass
class View:
    name: str
    nodes: dict[int, Node] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)


def _fields(line: str) -> list[str]:
    return next(csv.reader([line], skipinitialspace=False))


def _node(f: list[str]) -> Node | None:
    kind = {"10": "variable", "11": "valve", "12": "cloud"}[f[0]]
    x, y, w, h = (float(v) for v in f[3:7])
    if kind == "variable":
        shape, bits = int(f[7]), int(f[8])
        return Node(int(f[1]), kind, x, y, w, h, name=f[2].strip(), box=shape == 3,
                    shadow=bits % 2 == 0)
    return Node(int(f[1]), kind, x, y, w, h)


def _arrow(line: str, f: list[str]) -> Arrow:
    head, _, tail = line.partition("|")
    # a lone (0,0) is Vensim's mark of a straight arrow, not a point
    points = tuple(p for p in ((float(a), float(b)) for a, b in _POINT.findall(tail)) if p != (0.0, 0.0))
    polarity = {"43": "+", "45": "-"}.get(f[6].strip(), "")   # the characters' codes
    return Arrow(int(f[1]), int(f[2]), int(f[3]), points, polarity, head=f[4].strip() != "100")


def read_sketch(text: str) -> list[View]:
    """The views of the sketch section of a model's text (none when it has none)."""
    m = SKETCH_MARKER.search(text)
    if m is None:
        return []
    views: list[View] = []
    lines = text[m.end():].splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if line.startswith(_END):
            break
        if line.startswith("*"):
            views.append(View(line[1:].strip() or f"View {len(views) + 1}"))
            continue
        if not views or not line or line[0] not in "0123456789":
            continue
        kind = line.split(",", 1)[0]
        try:
            f = _fields(line)
            if kind == "12" and f[2].strip() == "0":
                i += 1           # a comment: its text is the next line
                continue
            if kind in ("10", "11", "12"):
                if kind == "12" and f[2].strip() != "48":
                    continue     # not a cloud: a plot, an input or output object
                node = _node(f)
                views[-1].nodes[node.id] = node
            elif kind == "1":
                views[-1].arrows.append(_arrow(line, f))
        except (ValueError, IndexError, StopIteration):
            continue             # not an object this reader knows: the diagram goes without it
    return views
