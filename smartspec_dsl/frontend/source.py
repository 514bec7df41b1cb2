"""Which front end reads a model file: the one place that decides.

By extension first (.mdl is Vensim; .xmile, .stmx, .itmx are XMILE), and for
any other name by content (an XML document is XMILE, anything else Vensim)."""
from __future__ import annotations

import re
from pathlib import Path

from .. import ir
from ..errors import ModelError
from .parse import parse_model, read_model_text

XMILE_SUFFIXES = (".xmile", ".stmx", ".itmx")
VENSIM_SUFFIXES = (".mdl",)


def model_format(filename: str, text: str) -> str:
    """'xmile' or 'vensim' for a model file named `filename` holding `text`."""
    suffix = Path(filename).suffix.lower()
    if suffix in XMILE_SUFFIXES:
        return "xmile"
    if suffix in VENSIM_SUFFIXES:
        return "vensim"
    head = text.lstrip("\ufeff \t\r\n")[:200].lower()
    return "xmile" if head.startswith("<?xml") or head.startswith("<xmile") else "vensim"


def parse_source(text: str, filename: str) -> ir.Model:
    """Model text -> model IR, through the front end its file type calls for."""
    if model_format(filename, text) == "xmile":
        from .xmile import parse_xmile     # its XML reader is imported only for an XMILE model
        # the text is already decoded: tell the XML parser so, whatever the file declared
        text = re.sub(r"""^(\ufeff?\s*<\?xml[^>]*?encoding\s*=\s*)["'][^"']*["']""", r'\1"UTF-8"', text)
        return parse_xmile(text.encode("utf-8"), filename)
    return parse_model(text, filename)


def parse_file(path: str | Path) -> ir.Model:
    """Read and parse a model file of either kind (see `parse_source`)."""
    try:
        text = read_model_text(path)
    except OSError as err:
        raise ModelError(f"{path}: cannot read model: {err.strerror or err}") from None
    return parse_source(text, str(path))
