"""Loads the Vensim grammar and builds the (cached) LALR parser."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import install_cache

if TYPE_CHECKING:   # lark is imported when a model is parsed, not with the package
    import lark

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "grammars" / "vensim.lark",  # source checkout
    Path(__file__).resolve().parents[1] / "grammars" / "vensim.lark",  # installed wheel
)


def grammar_path() -> Path:
    for path in _CANDIDATES:
        if path.is_file():
            return path
    raise FileNotFoundError("vensim.lark not found; the installation is incomplete")


def grammar_text() -> str:
    return grammar_path().read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def parser() -> lark.Lark:
    """The parser; its LALR tables are computed once per install (a tenth of a second) and
    kept beside the package's bytecode (lark checks them against the grammar's hash)."""
    import lark
    try:
        cache: str | bool = str(install_cache(Path(__file__).resolve().parent, "smartspec-parser")
                                / "vensim-lalr.cache")
    except OSError:
        cache = False
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=cache,
    )
