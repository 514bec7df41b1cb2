"""A syntax error of a model file, as a message: where, what was expected, what was found."""
from __future__ import annotations

import re

import lark

from ..errors import SyntaxErrorInModel
from .grammar import parser

# Human spellings of the grammar's terminals, for "expected ..." messages.
_TERMINAL_TEXT = {
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "COMMA": "','",
    "SEMICOLON": "';'", "COLON": "':'", "VBAR": "'|'", "TILDE": "'~'", "EQUAL": "'='",
    "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'", "CIRCUMFLEX": "'^'",
    "NUMBER": "a number", "NAME": "a name", "QUOTED_NAME": "a quoted name",
    "STRING": "a 'string'", "DOC_TEXT": "units or comment text", "MORETHAN": "'>'",
    "LESSTHAN": "'<'", "BANG": "'!'", "NA": ":NA:", "AND": ":AND:", "OR": ":OR:",
    "NOT": ":NOT:", "EXCEPT": ":EXCEPT:", "$END": "end of file",
}


def _describe_terminal(name: str) -> str:
    if name in _TERMINAL_TEXT:
        return _TERMINAL_TEXT[name]
    term = next((t for t in parser().terminals if t.name == name), None)
    if term is not None and term.pattern.type == "str":
        return f"'{term.pattern.value}'"
    return name.lower().replace("_", " ")


def _describe_expected(expected) -> str:
    names = sorted({_describe_terminal(t) for t in expected})
    if len(names) > 12:
        names = names[:12] + ["..."]
    return ", ".join(names)


def _first_token(text: str) -> str:
    """The offending token alone: a name or number, or else one character."""
    text = text.lstrip()
    m = re.match(r'"(?:[^"\\]|\\.)*"|[\w.$]+', text)
    return m.group(0)[:40] if m else text[:1]


def syntax_error(err: lark.exceptions.UnexpectedInput, text: str, filename: str) -> SyntaxErrorInModel:
    """Lark's error as the modeller reads it: file:line:column, what was expected in words,
    the offending token, and the line with a caret under it."""
    line, col = err.line, err.column
    if line is None or line < 1:  # unexpected end of input
        line = text.count("\n") + 1
        col = len(text.rsplit("\n", 1)[-1]) + 1
    if isinstance(err, lark.exceptions.UnexpectedToken):
        found = _first_token(str(err.token)) if err.token.type != "$END" else "end of file"
        expected = _describe_expected(err.accepts or err.expected)
    elif isinstance(err, lark.exceptions.UnexpectedCharacters):
        found = text[err.pos_in_stream: err.pos_in_stream + 1]
        expected = _describe_expected(err.allowed or [])
    else:
        found, expected = "end of file", _describe_expected(getattr(err, "expected", []))
    src_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    caret = " " * (col - 1) + "^"
    return SyntaxErrorInModel(
        f"{filename}:{line}:{col}: syntax error: expected {expected}, found '{found}'\n"
        f"    {src_line.expandtabs(1)}\n    {caret}")
