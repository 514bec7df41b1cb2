"""User-facing errors. Every error a user can cause is a ModelError subclass, so
the CLI can print it without a traceback and exit non-zero."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourcePos:
    """Where something stands in a model file (1-based line and column)."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class ModelError(Exception):
    """An error in the user's input; str() is the complete message."""
    exit_code = 2


class SyntaxErrorInModel(ModelError):
    pass


class UndefinedVariable(ModelError):
    pass


class UnsupportedFeature(ModelError):
    pass


class AlgebraicLoop(ModelError):
    pass


class ParameterError(ModelError):
    pass


class SpecError(ModelError):
    """A bad sweep, scenario, calibration or evaluation spec or data file."""


def did_you_mean(name: str, names: dict[str, str]) -> str:
    """'; did you mean 'X'?' for the display name X of the closest of `names`
    (canonical -> display) to the canonical `name`, or '' when none is close."""
    import difflib
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
    return f"; did you mean '{names[close[0]]}'?" if close else ""


def read_toml(path) -> dict:
    """A TOML spec file as a dict; an unreadable file or bad TOML is a SpecError naming the file."""
    import tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise SpecError(f"{path}: cannot read spec: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: invalid TOML: {err}") from None


def write_text_atomic(path, text: str) -> None:
    """Write a text output atomically: a reader never sees a half-written file, and a
    failure leaves any previous file untouched; an OSError is a SpecError naming the file."""
    import os
    import tempfile
    from pathlib import Path
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise SpecError(f"{target}: cannot write output: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SpecError(f"{target}: cannot write output: {exc.strerror or exc}") from None
        raise
