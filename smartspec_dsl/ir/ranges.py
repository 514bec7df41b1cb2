"""A model's subscript ranges expanded to their elements: aliases followed,
sub-ranges unfolded, mappings between ranges looked up. Shared by the passes
that read subscripts (flattening, external data)."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError


class MappingError(ModelError):
    """A mapping that cannot be read where an equation reads it: `what` is wrong, and the
    mapping is declared at `where` (the equation that reads it locates the message)."""

    def __init__(self, where, what: str):
        super().__init__(f"{where}: {what}")
        self.where, self.what = where, what


class SubscriptSpace:
    """The model's ranges, expanded to elements."""

    def __init__(self, ranges: dict[str, ir.SubscriptRange], spellings=()):
        """`spellings`: (name, as written) of the names the model reads that it does not define
        (ir.Model.spellings), for messages."""
        self.raw = ranges
        self.spellings = dict(spellings)
        self.elements: dict[str, tuple[str, ...]] = {}
        self.display: dict[str, str] = {}
        for r in ranges.values():
            for e, d in zip(r.elements, r.display or r.elements):
                if e not in ranges:
                    self.display.setdefault(e, d)
        for name in ranges:
            self._expand(name, ())
        self.all_elements = {e for els in self.elements.values() for e in els}
        # the root of an alias chain, so that aliases bind each other
        self.root = {n: self._alias_root(n) for n in ranges}
        self._family: dict[str, tuple[str, ...]] = {}
        self._maps: list | None = None
        self._sets: dict[str, frozenset] = {}
        self._positions: dict[str, dict[str, int]] = {}
        self._fits: dict[tuple, tuple[bool, bool]] = {}

    def shown(self, element: str) -> str:
        """An element as the modeller wrote it (for messages; names are matched lower-cased)."""
        return self.display.get(element) or self.spellings.get(element, element)

    def range_shown(self, name: str) -> str:
        """A range as the modeller wrote it (for messages)."""
        r = self.raw.get(name)
        return r.written if r is not None and r.written else self.spellings.get(name, name)

    def subscripts_shown(self, subs) -> str:
        """Subscripts (ranges or elements) as the modeller wrote them: '[Region,East]'."""
        return "[" + ",".join(self.range_shown(x) if x in self.raw else self.shown(x) for x in subs) + "]"

    def spans(self, var: ir.Variable) -> list[tuple[str, tuple[str, ...]]]:
        """[(range, its elements)] of a subscripted variable, [] for a scalar. A variable
        defined in pieces (k[A] = ..., k[C] = ...) spans, per subscript, every piece's
        elements: the smallest declared range that holds them all (Whole: A, C), its
        elements the pieces define, else those elements in the pieces' order under the first
        piece's range."""
        out = []
        for k, d in enumerate(var.dims):
            found = [e for df in var.definitions if len(df.subscripts) > k
                     for e in self.elements.get(df.subscripts[k].rstrip("!"), (df.subscripts[k],))]
            found = list(dict.fromkeys(found)) or list(self.elements.get(d, (d,)))
            span = set(found)
            holding = [r for r, els in self.elements.items() if span <= set(els)]
            best = min(holding, key=lambda r: (len(self.elements[r]), r != d), default=None)
            # a partial definition (x[a1], x[a3] of R) has those elements only, in R's order
            out.append((best, tuple(e for e in self.elements[best] if e in span)) if best is not None
                       else (d, tuple(found)))
        return out

    def _alias_root(self, name: str) -> str:
        seen = set()
        while name in self.raw and not self.raw[name].elements and self.raw[name].mapping \
                and name not in seen:
            seen.add(name)
            name = self.raw[name].mapping[0]
        return name

    def _expand(self, name: str, stack: tuple[str, ...]) -> tuple[str, ...]:
        if name in self.elements:
            return self.elements[name]
        r = self.raw[name]
        if name in stack:
            chain = stack[stack.index(name):] + (name,)
            links = [f"'{self.range_shown(a)}' " + (f"lists '{self.range_shown(b)}'" if self.raw[a].elements
                                                     else f"is an alias of '{self.range_shown(b)}'")
                     for a, b in zip(chain, chain[1:])]
            listed = any(self.raw[a].elements for a in chain[:-1])
            raise ModelError(f"{self.raw[chain[0]].pos}: subscript range '{self.range_shown(name)}' is defined in "
                             f"terms of itself: {', '.join(links)}" + (" (an element named as a subscript range "
                                                                        "is read as that range)" if listed else ""))
        if not r.elements and r.mapping:  # alias
            target = r.mapping[0]
            if target not in self.raw:
                raise ModelError(f"{r.pos}: '{self.range_shown(name)}' is an alias of '{self.range_shown(target)}', "
                                 "which is not a subscript range")
            out = self._expand(target, stack + (name,))
        else:
            items: list[str] = []
            for e in r.elements:
                if e in self.raw and e != name:
                    items.extend(self._expand(e, stack + (name,)))
                else:
                    items.append(e)
            out = tuple(dict.fromkeys(items))
        self.elements[name] = out
        return out

    def element_family(self, element: str) -> tuple[str, ...]:
        """The first of the largest ranges holding an element."""
        best: tuple[str, ...] = ()
        for els in self.elements.values():
            if len(els) > len(best) and element in els:
                best = els
        return best

    def is_range(self, name: str) -> bool:
        return name in self.elements

    def element_set(self, name: str) -> frozenset:
        """A range's elements as a set (made once)."""
        got = self._sets.get(name)
        if got is None:
            got = self._sets[name] = frozenset(self.elements[name])
        return got

    def run_start(self, sub: str, name: str) -> int | None:
        """The position in range `name` of range `sub`'s first element when `sub`'s elements
        are consecutive elements of `name`, in its order (a subrange written as a run), else
        None."""
        els = self.elements[sub]
        first = self.position(name, els[0]) if els else None
        if first is None or self.elements[name][first:first + len(els)] != els:
            return None
        return first

    def position(self, name: str, element: str) -> int | None:
        """The 0-based position of `element` in range `name`, or None (a dict made once: a
        model of thousands of elements asks for each)."""
        where = self._positions.get(name)
        if where is None:
            where = self._positions[name] = {e: k for k, e in enumerate(self.elements[name])}
        return where.get(element)

    def family(self, name: str) -> tuple[str, ...]:
        """The largest range holding all of `name`'s elements (itself on a tie)."""
        if name not in self._family:
            mine = set(self.elements[name])
            best = self.elements[name]
            # the largest range holding them; on a tie the first range defined
            for els in self.elements.values():
                if len(els) > len(best) and mine <= set(els):
                    best = els
            best = next(els for els in self.elements.values()
                        if len(els) == len(best) and mine <= set(els))
            self._family[name] = best
        return self._family[name]

    def _mappings(self) -> list[tuple[str, frozenset, frozenset, list]]:
        """Every mapping `M: m1, m2 -> (T: t1, t2)`, as (M, M's elements, T's family, and
        per element of M the set of T's elements it maps to). A listed target may be an
        element or a subrange (all its elements); without a list, M's elements map to
        T's in order."""
        if self._maps is None:
            self._maps = []
            for name, r in self.raw.items():
                if not r.elements or not r.mapping:
                    continue
                mine = self.elements[name]
                for k, target in enumerate(r.mapping):
                    if target not in self.raw:
                        raise ModelError(f"{r.pos}: '{self.range_shown(name)}' is mapped to '{target}', which is not "
                                         "a subscript range")
                    listed = r.mapping_elements[k] if k < len(r.mapping_elements) else ()
                    if listed:
                        unknown = [x for x in listed if x not in self.elements and x not in self.all_elements]
                        if unknown:
                            raise ModelError(f"{r.pos}: '{self.shown(unknown[0])}' in the mapping of "
                                             f"'{self.range_shown(name)}' is not an element or subrange of "
                                             f"'{self.range_shown(target)}'")
                        items = [frozenset(self.elements.get(x, (x,))) for x in listed]
                    else:
                        items = [frozenset((y,)) for y in self.elements[target]]
                    if len(items) != len(mine):
                        raise ModelError(f"{r.pos}: '{self.range_shown(name)}' has {len(mine)} elements but "
                                         f"its mapping to '{self.range_shown(target)}' lists {len(items)}")
                    onto: dict[str, list[str]] = {}
                    for x, its in zip(mine, items):
                        for y in its:
                            onto.setdefault(y, []).append(x)
                    self._maps.append((name, frozenset(mine), frozenset(self.family(target)),
                                       dict(zip(mine, items)), onto))
        return self._maps

    def mapped(self, src: str | None, e: str, dst: str) -> str | None:
        """The element of range `dst` (a right-hand side subscript) that the left-hand side's
        element `e` of range `src` (None for an element) reads through a mapping, or None.

        Vensim's rule: `M: m1, m2 -> (T: ...)` lets M appear on the right of an equation
        whose left runs over T (or a subrange of T's family); each element of T reads the
        element of M mapped onto it (several may read the same one). Used backwards (M on
        the left, T on the right) an element of M reads the one element of T it maps to."""
        dst_els = self.element_set(dst)
        for k, (name, mine, family, pairs, onto) in enumerate(self._mappings()):
            key = (src, dst, k)
            fits = self._fits.get(key) if src is not None else None
            if fits is None:
                src_els = self.element_set(src) if src is not None else {e}
                # (forward: dst is (a subrange of) the mapped range M, the left-hand side in T's
                # family; backwards: the left-hand side runs over (a subrange of) M, dst in T's)
                fits = (dst_els <= mine and src_els <= family, src_els <= mine and dst_els <= family)
                if src is not None:
                    self._fits[key] = fits
            if fits[0]:
                hits = [x for x in onto.get(e, ()) if x in dst_els]
                if len(hits) > 1:
                    raise MappingError(self.raw[name].pos, f"the mapping of '{self.range_shown(name)}' maps "
                                       f"both '{self.shown(hits[0])}' and '{self.shown(hits[1])}' onto "
                                       f"'{self.shown(e)}', so '{self.range_shown(dst)}' is ambiguous there")
                if hits:
                    return hits[0]
            if e in mine and fits[1]:
                hits = sorted((y for y in pairs[e] if y in dst_els), key=lambda y: self.position(dst, y))
                if len(hits) > 1:
                    raise MappingError(self.raw[name].pos, f"the mapping of '{self.range_shown(name)}' maps "
                                       f"'{self.shown(e)}' onto several elements of '{self.range_shown(dst)}' "
                                       f"({', '.join(self.shown(h) for h in hits)}): a mapping is read "
                                       f"backwards only when each element maps to one")
                if hits:
                    return hits[0]
        return None


# A subscript of a reference in a dense array's piece (passes/dense_pieces.py): the element at
# position c + a0*i0 + a1*i1 + ... of the referenced array's range, i_j the loop counters.
def subscript_form(c: int, coeffs) -> str:
    """A reference's subscript in a piece: the element at c + sum(a_j * i_j)."""
    return f"@{c}:{','.join(str(a) for a in coeffs)}"


def parse_form(s: str) -> tuple[int, tuple[int, ...]]:
    """(c, (a0, a1, ...)) of a `subscript_form`."""
    c, _, coeffs = s[1:].partition(":")
    return int(c), tuple(int(a) for a in coeffs.split(",")) if coeffs else ()


def piece_at(expr, positions) -> tuple | None:
    """(the expression, the loop counters there) of the piece of a dense array's `@PIECES`
    equation that holds the element at `positions` (one per range), or None."""
    if type(expr).__name__ != "Call" or expr.func != "@PIECES":
        return None
    for box, piece in zip(expr.args[::2], expr.args[1::2]):
        at = [int(x.value) for x in box.args]
        if all(a <= p < a + n for a, n, p in zip(at[::2], at[1::2], positions)):
            return piece, tuple(p - a for a, p in zip(at[::2], positions))
    return None
