"""How a subscript of an equation binds to the elements of its left-hand side (Vensim's
rules), shared by the flattening (passes/subscripts.py) and the dense route's pieces
(passes/dense_pieces.py), which must agree element for element.

- a subscript in a reference is either an element (fixed) or a range name, which takes the
  element the left-hand side currently has for that range: the same range, an alias of it,
  a range mapped to or from it (`->`), or the range containing the left-hand side's element
  (subranges, single elements);
- `range!` is iterated over by the enclosing array function.

`ctx` is the left-hand side's current element: per subscript (its range, or None for an
element; the element); `it` maps an iterated `range!` to its current element.
"""
from __future__ import annotations

import itertools

from .. import ir
from ..errors import ModelError, UnsupportedFeature
from ..ir.ranges import MappingError, SubscriptSpace


class Binding:
    """The binding rules over `self.space` (a `SubscriptSpace`)."""

    space: SubscriptSpace

    def lhs_options(self, subs, pos, what="subscript") -> list[tuple[str | None, tuple[str, ...]]]:
        out = []
        for s in subs:
            s = s.rstrip("!")
            if self.space.is_range(s):
                if not self.space.elements[s]:
                    r = self.space.raw.get(s)
                    raise UnsupportedFeature(f"{pos}: subscript range '{self.space.range_shown(s)}' (defined at "
                                             f"{r.pos if r else '?'}) has no elements listed; ranges "
                                             "defined by a function call are not supported yet")
                out.append((s, self.space.elements[s]))
            elif s in self.space.all_elements:
                out.append((None, (s,)))
            else:
                raise ModelError(f"{pos}: unknown {what} '{self.space.shown(s)}': not a subscript range or element")
        return out

    # -- references ----------------------------------------------------------------
    def bind(self, s: str, ctx, it: dict[str, str], position: int | None) -> str | None:
        """The element a range name stands for here, or None if nothing binds it."""
        b = self.binding(s, ctx, it, position)
        return None if b is None else b[1]

    def binding(self, s: str, ctx, it: dict[str, str], position: int | None) -> tuple[int | None, str] | None:
        """(the position of the left-hand side's subscript that binds the range name `s`, or
        None when an enclosing array function's iteration does; the element), or None."""
        sp = self.space
        if s in it:
            return None, it[s]
        root = sp.root.get(s, s)
        # the same range on the left-hand side, else an alias of it (in m[i, j] with j <-> i,
        # j is j's element, not i's)
        hits = [i for i, (r, _) in enumerate(ctx) if r == s] or \
            [i for i, (r, _) in enumerate(ctx) if r is not None and sp.root.get(r, r) == root]
        if hits:
            i = position if position in hits else hits[0]
            return i, ctx[i][1]
        # a mapping between a left-hand side range (or element) and this one
        for i, (r, e) in enumerate(ctx):
            m = sp.mapped(r, e, s)
            if m is not None:
                return i, m
        # the left-hand side's element belongs to this range
        els = sp.element_set(s)
        hits = [i for i, (_, e) in enumerate(ctx) if e in els]
        if hits:
            i = position if position in hits else hits[0]
            return i, ctx[i][1]
        return None

    def resolve(self, s: str, ctx, it, position, pos) -> str:
        sp = self.space
        if s.endswith("!"):
            r = s[:-1]
            if s in it:
                return it[s]
            if not sp.is_range(r):
                raise ModelError(f"{pos}: unknown subscript range '{sp.shown(r)}' in '{sp.shown(r)}!'")
            raise ModelError(f"{pos}: '{sp.range_shown(r)}!' is only allowed inside an array function "
                             "(SUM, PROD, VMIN, VMAX, ...)")
        if sp.is_range(s):
            try:
                e = self.bind(s, ctx, it, position)
            except MappingError as err:   # the equation that reads the mapping is the one to change
                raise ModelError(f"{pos}: reading '{sp.range_shown(s)}' here, {err.what} (the mapping is "
                                 f"declared at {err.where})") from None
            if e is None:
                raise ModelError(f"{pos}: subscript range '{sp.range_shown(s)}' is not bound by the left-hand side "
                                 "of this equation (use an element, or '!' inside an array function)")
            return e
        if s in sp.all_elements:
            return s
        raise ModelError(f"{pos}: unknown subscript '{sp.shown(s)}': not a subscript range or element")

    def combos(self, var: ir.Variable, d: ir.Definition) -> tuple[list, list[tuple[str, ...]]]:
        """(the left-hand side's options, as `lhs_options` gives them; the element combinations
        definition `d` of `var` defines, its :EXCEPT: clauses left out, in its order)."""
        options = self.lhs_options(d.subscripts, d.pos)
        excluded: set[tuple[str, ...]] = set()
        for ex in d.excepts:
            if len(ex) != len(d.subscripts):
                raise ModelError(f"{d.pos}: :EXCEPT: {self.space.subscripts_shown(ex)} has {len(ex)} subscripts, "
                                 f"the equation has {len(d.subscripts)}")
            ex_opts = self.lhs_options(ex, d.pos, "subscript in :EXCEPT:")
            excluded.update(itertools.product(*(els for _, els in ex_opts)))
        return options, [c for c in itertools.product(*(els for _, els in options)) if c not in excluded]
