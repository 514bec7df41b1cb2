"""Loads the Vensim grammar and builds the (cached) LALR parser."""
from __future__ import annotations

import functools
from pathlib import Path

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
    return lark.Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
    )
