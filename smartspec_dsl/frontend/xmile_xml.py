"""Reading an XMILE file's XML safely, keeping where each element stands.

Model files come from strangers, so the XML goes through defusedxml's parser:
an entity declaration (the "billion laughs" bomb) or a reference to an
external entity is refused before anything is expanded or fetched. Every
element keeps its line and column, so later errors say FILE:LINE:COL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError

from ..errors import ModelError, SourcePos, SyntaxErrorInModel
from ..files import read_regular_file


@dataclass
class Node:
    """One XML element: tag without namespace, attributes without namespace
    prefixes, text (stripped of nothing), children, and its position."""
    tag: str
    attrs: dict[str, str]
    pos: SourcePos
    text: str = ""
    text_pos: SourcePos | None = None   # where the text starts (for equation errors)
    children: list["Node"] = field(default_factory=list)

    def find(self, tag: str) -> "Node | None":
        return next((c for c in self.children if c.tag == tag), None)

    def findall(self, tag: str) -> list["Node"]:
        return [c for c in self.children if c.tag == tag]

    def child_text(self, tag: str, default: str | None = None) -> str | None:
        c = self.find(tag)
        return c.text if c is not None else default


def _local(name: str) -> str:
    """'{namespace}tag' and 'prefix:tag' -> 'tag'."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1]


_TAG_END = re.compile(r"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")


class _LineIndex:
    def __init__(self, text: str):
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col - 1 if 0 < line <= len(self.starts) else len(self.text)

    def position(self, offset: int) -> tuple[int, int]:
        import bisect
        i = bisect.bisect_right(self.starts, offset) - 1
        return i + 1, offset - self.starts[i] + 1


_PREFIX = re.compile(r"""</?([A-Za-z_][\w.-]*):[A-Za-z_]|\s([A-Za-z_][\w.-]*):[A-Za-z_][\w.-]*\s*=""")
_ROOT = re.compile(r"""<(?![?!])(?:[^>"']|"[^"]*"|'[^']*')*?(/?>)""")


def _declare_prefixes(data: bytes, text: str) -> bytes:
    """Declare namespace prefixes a file uses without declaring them (some tools
    write <isee:prefs> and never bind 'isee'), at the end of the root start tag, so
    the positions of every later element stay as they are in the file."""
    used = {a or b for a, b in _PREFIX.findall(text)} - {"xml", "xmlns"}
    missing = sorted(p for p in used if not re.search(rf"xmlns:{re.escape(p)}\s*=", text))
    m = _ROOT.search(text)
    if not missing or m is None:
        return data
    decl = "".join(f' xmlns:{p}="urn:undeclared:{p}"' for p in missing)
    at = m.start(1)
    return (text[:at] + decl + text[at:]).encode("utf-8")


def read_xml(data: bytes, filename: str) -> Node:
    """Parse `data` into a tree of Nodes. Raises SyntaxErrorInModel (located) for
    malformed XML, and ModelError for entity declarations or external entities."""
    try:
        from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
        from defusedxml.ElementTree import DefusedXMLParser
    except ImportError:
        raise ModelError(f"{filename}: reading XMILE files needs defusedxml: "
                         "pip install 'smartspec[xmile]'") from None
    from xml.etree.ElementTree import TreeBuilder

    text = data.decode("utf-8", errors="replace")
    data = _declare_prefixes(data, text)
    lines = _LineIndex(text)
    parser = DefusedXMLParser(target=TreeBuilder(), forbid_dtd=False,
                              forbid_entities=True, forbid_external=True)
    expat = parser.parser
    where: dict[int, tuple[int, int]] = {}
    start = expat.StartElementHandler

    def start_at(tag, attrs):
        line, col = expat.CurrentLineNumber, expat.CurrentColumnNumber + 1
        elem = start(tag, attrs)
        where[id(elem)] = (line, col)
        return elem
    expat.StartElementHandler = start_at

    def located() -> SourcePos:
        return SourcePos(filename, expat.CurrentLineNumber, expat.CurrentColumnNumber + 1)
    try:
        parser.feed(data)
        root = parser.close()
    except ParseError as err:
        line, col = getattr(err, "position", (0, -1))
        msg = str(err).split(":")[0]
        raise SyntaxErrorInModel(f"{filename}:{line}:{col + 1}: malformed XML: {msg}") from None
    except EntitiesForbidden as err:
        if err.sysid or err.pubid:
            raise ModelError(f"{located()}: the file declares the external entity '{err.name}' "
                             f"({err.sysid or err.pubid}); external references are refused") from None
        raise ModelError(f"{located()}: the file declares the XML entity '{err.name}'; "
                         "entity declarations are refused (they can expand without bound)") from None
    except ExternalReferenceForbidden as err:
        raise ModelError(f"{located()}: the file refers to an external entity "
                         f"({err.sysid or err.pubid}); external references are refused") from None
    except DTDForbidden:  # not raised with forbid_dtd=False; kept for completeness
        raise ModelError(f"{located()}: document type declarations are refused") from None

    def convert(elem) -> Node:
        line, col = where.get(id(elem), (0, 0))
        node = Node(_local(elem.tag), {_local(k): v for k, v in elem.attrib.items()},
                    SourcePos(filename, line, col), elem.text or "")
        if line:
            m = _TAG_END.match(text, lines.offset(line, col))
            if m:
                node.text_pos = SourcePos(filename, *lines.position(m.end()))
        node.children = [convert(c) for c in elem]
        return node
    return convert(root)


def read_xml_file(path: str | Path) -> Node:
    path = Path(path)
    data = read_regular_file(path, "model")   # the one checked read (no device, FIFO, directory)
    return read_xml(data, str(path))
