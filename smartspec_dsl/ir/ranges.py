"""A model's subscript ranges expanded to their elements: aliases followed,
sub-ranges unfolded, mappings between ranges looked up. Shared by the passes
that read subscripts (flattening, external data)."""
from __future__ import annotations

from .. import ir
from ..errors import ModelError


class SubscriptSpace:
    """The model's ranges, expanded to elements."""

    def __init__(self, ranges: dict[str, ir.SubscriptRange]):
        self.raw = ranges
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
            raise ModelError(f"{r.pos}: subscript range '{name}' is defined in terms of itself")
        if not r.elements and r.mapping:  # alias
            target = r.mapping[0]
            if target not in self.raw:
                raise ModelError(f"{r.pos}: '{name}' is an alias of '{target}', "
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

    def mapped(self, src: str, e: str, dst: str) -> str | None:
        """The element of `dst` that element `e` of range `src` corresponds to."""
        for a, b, forward in ((src, dst, True), (dst, src, False)):
            r = self.raw.get(a)
            if r is None or not r.elements:
                continue
            for k, target in enumerate(r.mapping):
                if self.root.get(target, target) != self.root.get(b, b) and target != b:
                    continue
                listed = r.mapping_elements[k] if k < len(r.mapping_elements) else ()
                a_els = self.elements[a]
                b_els = listed if listed else self.elements[target]
                pairs = list(zip(a_els, b_els))
                if forward:
                    hits = [y for x, y in pairs if x == e]
                else:
                    hits = [x for x, y in pairs if y == e]
                if hits:
                    return hits[0]
        return None
