"""`smartspec convert`: a model written as XMILE or as Vensim equations."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ModelError, UnsupportedFeature
from ..files import replacing
from ..frontend.mdl_write import write_mdl
from ..frontend.source import XMILE_SUFFIXES, parse_file
from ..frontend.xmile_write import write_xmile


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    cv = sub.add_parser("convert", help="write a model as XMILE (.xmile, .stmx, .itmx) or Vensim (.mdl)")
    cv.add_argument("model")
    cv.add_argument("-o", "--output", required=True, help="the file to write; its extension picks the format")
    cv.set_defaults(func=main)


def main(args) -> int:
    """Write MODEL as XMILE or as Vensim equations, as the output's extension says;
    nothing is written on error."""
    suffix = Path(args.output).suffix.lower()
    if suffix not in XMILE_SUFFIXES + (".mdl",):
        raise UnsupportedFeature(f"{args.output}: convert writes XMILE ({', '.join(XMILE_SUFFIXES)}) "
                                 "or Vensim (.mdl)")
    model = parse_file(args.model)
    text = write_mdl(model) if suffix == ".mdl" else write_xmile(model)
    try:
        with replacing(args.output) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as err:
        raise ModelError(f"{args.output}: cannot write: {err.strerror or err}") from None
    print(f"{args.model} -> {args.output}", file=sys.stderr)
    return 0
