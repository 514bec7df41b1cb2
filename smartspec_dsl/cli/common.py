"""What several commands share: `--set NAME=VALUE`, `--data`/`--data-alias`, the note a
first compile prints and a run's warnings."""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ParameterError, finite_number
from ..frontend.external import DataOptions


def parse_sets(items) -> dict[str, float]:
    params = {}
    for item in items or []:
        name, sep, value = item.rpartition("=")   # the value is a number: a quoted name may hold '='
        if not sep or not name.strip():
            raise ParameterError(f"--set expects NAME=VALUE, got '{item}'")
        try:
            float(value)
        except ValueError:
            raise ParameterError(f"--set {name.strip()}: '{value}' is not a number") from None
        if name.strip() in params:
            raise ParameterError(f"--set {name.strip()} is given twice")
        params[name.strip()] = finite_number(f"'{name.strip()}'", value, note=" (--set)")
    return params


def positive(text: str) -> int:
    """An option's value that must be a whole number of at least 1 (argparse `type`): a bad
    one is refused by argparse, naming the option."""
    import argparse
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def compile_note(message: str) -> None:
    # only on a terminal, like the progress bars: logs and pipes get the summary line alone
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)


def data_options(args) -> DataOptions:
    """--data FILE (repeatable) and --data-alias NAME=FILE as external.DataOptions."""
    aliases = {}
    for item in getattr(args, "data_alias", None) or []:
        name, sep, file = item.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise ParameterError(f"--data-alias expects NAME=FILE, got '{item}'")
        aliases[name.strip().lstrip("?")] = Path(file.strip())
    files = []
    for file in getattr(args, "data", None) or []:
        path = Path(file)
        if not path.is_file():
            raise ParameterError(f"--data {file}: no such file")
        if path.suffix.lower() not in (".csv", ".tab", ".tsv", ".dat", ".xlsx", ".xlsm", ".xls"):
            raise ParameterError(f"--data {file}: expected a .csv, .tab, .dat (Vensim's text format) or .xlsx file")
        files.append(path)
    return DataOptions(tuple(files), aliases)


def add_data_arguments(parser) -> None:
    parser.add_argument("--data", action="append", metavar="FILE",
                        help="data file for the model's data variables (.csv, .tab, .xlsx, .dat; "
                             "repeatable; default: the .csv/.tab files next to the model)")
    parser.add_argument("--data-alias", action="append", metavar="NAME=FILE",
                        help="the file a GET function's '?NAME' file argument stands for")


def print_warnings(warnings, shown: int = 20) -> None:
    """A run's simulation warnings on stderr, the first `shown` of them and a count of the rest."""
    for w in warnings[:shown]:
        print(f"warning: {w}", file=sys.stderr)
    if len(warnings) > shown:
        print(f"warning: ... and {len(warnings) - shown} more", file=sys.stderr)
