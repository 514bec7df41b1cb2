"""What several commands share: `--set NAME=VALUE` and the note a first compile prints."""
from __future__ import annotations

import sys

from ..errors import ParameterError


def parse_sets(items) -> dict[str, float]:
    params = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"--set expects NAME=VALUE, got '{item}'")
        try:
            params[name.strip()] = float(value)
        except ValueError:
            raise ParameterError(f"--set {name.strip()}: '{value}' is not a number") from None
    return params


def compile_note(message: str) -> None:
    # only on a terminal, like the progress bars: logs and pipes get the summary line alone
    if sys.stderr.isatty():
        print(message, file=sys.stderr, flush=True)
