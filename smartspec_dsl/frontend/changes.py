"""Vensim changes files (.cin): constant overrides and replacement lookup tables.

    name = 2e12
    some table (
      (0,0),(1,.05))
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import ir
from ..errors import ModelError, SpecError, finite_number

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
# a name, its quoted parts (`"sum(x)"`, `"a=b"[r1]`) free to hold = and parentheses
_NAME = r'(?:"(?:[^"\\\n]|\\.)*"|[^=()"\n])+?'
_CONSTANT = re.compile(rf"\s*(?P<name>{_NAME})\s*=\s*(?P<value>{_NUMBER})\s*$")
_TABLE_START = re.compile(rf"\s*(?P<name>{_NAME})\s*\(\s*(?P<rest>.*)$")
_POINT = re.compile(rf"\(\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\)")


@dataclass
class Changes:
    source: str
    constants: dict[str, float] = field(default_factory=dict)     # canonical name -> value
    tables: dict[str, ir.LookupTable] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)            # canonical name -> line
    written: dict[str, str] = field(default_factory=dict)          # canonical name -> as written
    notices: list[str] = field(default_factory=list)   # tables read in x order or a point once


def parse_changes(text: str, source: str = "<changes>") -> Changes:
    out = Changes(source)
    # \x1a: the DOS end-of-file mark some Vensim-era files still carry
    lines = text.replace("\x1a", "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    i = 0
    while i < len(lines):
        line, lineno = lines[i], i + 1
        i += 1
        if not line.strip():
            continue
        m = _CONSTANT.match(line)
        if m:
            name = ir.canonical_reference(m.group("name"))
            out.constants[name] = finite_number(f"'{m.group('name').strip()}'", m.group("value"),
                                                at=f"{source}:{lineno}")
            out.lines[name] = lineno
            out.written[name] = m.group("name").strip()
            continue
        m = _TABLE_START.match(line)
        if not m:
            raise SpecError(f"{source}:{lineno}: expected 'name = number' or 'name (' a lookup table, "
                            f"found '{line.strip()[:60]}'")
        body = m.group("rest")
        # the table ends where its parentheses balance
        depth = 1 + body.count("(") - body.count(")")
        while depth > 0 and i < len(lines):
            body += lines[i]
            depth += lines[i].count("(") - lines[i].count(")")
            i += 1
        if depth != 0:
            raise SpecError(f"{source}:{lineno}: lookup table '{m.group('name').strip()}' is not closed")
        what = f"each point of lookup table '{m.group('name').strip()}'"
        points = [(finite_number(what, x, at=f"{source}:{lineno}"), finite_number(what, y, at=f"{source}:{lineno}"))
                  for x, y in _POINT.findall(body)]
        if not points:
            raise SpecError(f"{source}:{lineno}: lookup table '{m.group('name').strip()}' has no (x,y) points")
        name = ir.canonical_reference(m.group("name"))
        # the model's own rule (ir.table_in_x_order): points read in x order, a point given
        # twice read once, each with a warning; two y values at one x refused
        try:
            table, notice = ir.table_in_x_order(points, f"{source}:{lineno}",
                                                f"lookup table '{m.group('name').strip()}'")
        except ModelError as err:
            raise SpecError(str(err)) from None
        if notice:
            out.notices.append(notice)
        out.tables[name] = table
        out.lines[name] = lineno
        out.written[name] = m.group("name").strip()
    return out


def read_changes(path: str | Path) -> Changes:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise SpecError(f"{path}: cannot read changes file: {err.strerror or err}") from None
    return parse_changes(text, str(path))
