"""XMILE equations: the text of one <eqn> -> parse tree (grammars/xmile_expr.lark) ->
a raw IR expression, as written: XMILE's names, subscripts and calls, not yet resolved
against the model (xmile_arrays.py resolves names and subscripts, xmile_builtins.py
rewrites the builtins onto the IR's functions).

Subscripts keep markers (below) for what only the referenced variable's dimensions
can resolve: '*', a position number, a position computed when the model runs, '@n',
a range 'a:b'.
"""
from __future__ import annotations

import functools
import re

import lark
from lark import v_args

from .. import ir
from ..errors import ModelError, SourcePos, SyntaxErrorInModel, UnsupportedFeature
from .expr_rules import ExprRules
from .grammar import grammar_path


@functools.lru_cache(maxsize=None)
def parser() -> lark.Lark:
    """The LALR parser of grammars/xmile_expr.lark (beside the Vensim grammar)."""
    path = grammar_path().parent / "xmile_expr.lark"
    if not path.is_file():
        raise FileNotFoundError("xmile_expr.lark not found; the installation is incomplete")
    return lark.Lark(path.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                     propagate_positions=True, maybe_placeholders=False)


def _unescape(text: str) -> str:
    """XMILE's escapes in names: \\n is a line break (read as a space), \\\\ and \\"
    the characters themselves."""
    return re.sub(r"\\(.)", lambda m: " " if m.group(1) == "n" else m.group(1), text)


def xmile_name(text: str) -> str:
    """The canonical IR name of an XMILE name: quotes and escapes removed, a
    written newline or underscore read as a space, case ignored."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    return ir.canonical_name(_unescape(text))


def display_name(text: str) -> str:
    """The name as the modeller reads it: XMILE's escapes resolved, underscores as spaces."""
    return re.sub(r"\s+", " ", _unescape(text).replace("_", " ")).strip()


# ---- text -> raw expression -------------------------------------------------------

# Subscript markers in a raw Ref, resolved against the referenced variable's dimensions.
WILDCARD = "*"
INDEX = "#"       # '#2': the second element of that position's dimension
COMPUTED = "?"    # a position given by an expression, an argument of COMPUTED_INDEX
COMPUTED_INDEX = "@XMILE INDEX"
POSITION = "@"    # '@1': the first dimension of the equation's own variable
TRANSPOSE = "@XMILE TRANSPOSE"
RANGE = ":"       # 'first:last', each a position ('#2') or an element's name


@v_args(meta=True)
class _ToExpr(ExprRules):
    def __init__(self, where):
        super().__init__()
        self.where = where

    def _pos(self, meta) -> SourcePos:
        return self.where(getattr(meta, "line", 1), getattr(meta, "column", 1))

    def name(self, meta, children):
        return str(children[0])

    def number(self, meta, children):
        return ir.Num(float(children[0]))

    def wildcard(self, meta, children):
        return WILDCARD

    def dimension_position(self, meta, children):
        # '@2': the second dimension of the equation's own variable (section 3.7.1.1)
        return POSITION + str(int(float(children[0])))

    def transpose(self, meta, children):
        return ir.Call(TRANSPOSE, (children[0],), self._pos(meta))

    def dimension_wildcard(self, meta, children):
        # '*:SubA' (as converters write Vensim's SubA!): every element of that dimension
        return WILDCARD + ":" + xmile_name(children[0])

    def subscript_range(self, meta, children):
        # A[1:3], A[Boston:LA] (section 3.7.1.2): the elements from the first to the last
        ends = []
        for c in children:
            if isinstance(c, ir.Num) and c.value == int(c.value) and c.value >= 1:
                ends.append(f"{INDEX}{int(c.value)}")
            elif isinstance(c, ir.Ref) and not c.subscripts:
                ends.append(c.name.rsplit(".", 1)[-1])
            else:
                raise UnsupportedFeature(f"{self._pos(meta)}: a range's ends must be positions or "
                                         "element names, not values computed when the model runs")
        return RANGE.join(ends)

    def subscripts(self, meta, children):
        out = []
        for c in children:
            if c == WILDCARD or (isinstance(c, str) and c.startswith((WILDCARD + ":", POSITION))):
                out.append(c)
            elif isinstance(c, ir.Num) and c.value == int(c.value) and c.value >= 1:
                out.append(f"{INDEX}{int(c.value)}")
            elif isinstance(c, ir.Ref) and not c.subscripts:
                # 'Dim.elem' names an element of a dimension (or a variable: see _resolve_ref)
                out.append(c.name.rsplit(".", 1)[-1])
            else:
                out.append(c)   # a position computed when the model runs (XMILE 1.0, 3.7.1)
        return tuple(out)

    def reference(self, meta, children):
        subs = children[1] if len(children) > 1 else ()
        pos = self._pos(meta)
        computed = [s for s in subs if not isinstance(s, str)]
        if not computed:
            return ir.Ref(xmile_name(children[0]), subs, pos)
        # x[i + 1, b]: the computed positions travel as the arguments of a COMPUTED_INDEX
        # call (translated like any expression), the reference keeps a marker in their place
        marked = tuple(s if isinstance(s, str) else COMPUTED for s in subs)
        return ir.Call(COMPUTED_INDEX, (ir.Ref(xmile_name(children[0]), marked, pos), *computed), pos)

    def call(self, meta, children):
        return ir.Call(children[0].strip('"').upper(), tuple(children[1:]), self._pos(meta))

    def binary(self, meta, children):
        left, op, right = children
        op = str(op.children[0]) if isinstance(op, lark.Tree) else str(op)
        op = op.upper()
        if op == "MOD":
            return ir.Call("MODULO", (left, right), self._pos(meta))
        return ir.BinOp(op, left, right)

    def if_then_else(self, meta, children):
        return ir.Call("IF THEN ELSE", (children[1], children[3], children[5]), self._pos(meta))


def parse_equation(text: str, start: SourcePos, variable: str) -> ir.Expr:
    """Parse one <eqn>; `start` is where its text begins in the file. Raises
    SyntaxErrorInModel located in the file and naming `variable`."""
    def where(line: int, col: int) -> SourcePos:
        if line <= 1:
            return SourcePos(start.file, start.line, start.column + col - 1)
        return SourcePos(start.file, start.line + line - 1, col)

    if not text.strip():
        raise ModelError(f"{start}: '{variable}' has an empty equation")
    try:
        tree = parser().parse(text)
    except lark.exceptions.UnexpectedInput as err:
        line, col = err.line, err.column
        if line is None or line < 1:
            line, col = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
        hint = ""
        if isinstance(err, lark.exceptions.UnexpectedToken):
            found = "end of equation" if err.token.type == "$END" else str(err.token)
            before = (getattr(err, "token_history", None) or [None])[-1]
            if err.token.type == "NAME" and before is not None and before.type == "NAME":
                hint = (f"; '{before} {found}' is two names: XMILE writes a name's spaces as "
                        "underscores, or quotes the name")
        else:
            found = text[err.pos_in_stream: err.pos_in_stream + 1]
        raise SyntaxErrorInModel(f"{where(line, col)}: syntax error in the equation of '{variable}': "
                                 f"unexpected '{found}' in: {' '.join(text.split())[:120]}{hint}") from None
    try:
        return _ToExpr(where).transform(tree)
    except lark.exceptions.VisitError as err:
        if isinstance(err.orig_exc, ModelError):
            raise err.orig_exc from None
        raise
