"""User-facing errors. Every error a user can cause is a ModelError subclass, so
the CLI can print it without a traceback and exit non-zero."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class SourcePos:
    """Where something stands in a model file (1-based line and column)."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, as the command line's SIGINT handler (`raise_interrupted`) raises it.

    Not a plain KeyboardInterrupt because CPython (3.11, 3.12) marks the process for death
    by SIGINT when exactly a KeyboardInterrupt leaves code run by a string `exec`/`eval`
    (`run_eval_code_obj`), even when a caller catches it, and a `python -m` process then
    kills itself with the signal at exit instead of exiting 130; Numba compiles by string
    `exec`, and dataclasses and namedtuples are made that way. A subclass is caught by every
    `except KeyboardInterrupt` as before."""


def raise_interrupted(signum, frame):
    """The command line's SIGINT handler (installed by its entry points, first of all). It
    marks that Ctrl-C came before raising: the raise can land in code that turns it into
    another error (an import half done, a library's own handler), which `interrupt_came`
    then lets the command report as the interruption it is."""
    raise_interrupted.came = True
    raise Interrupted


def interrupt_came() -> bool:
    """Whether the command line's SIGINT handler has run in this process."""
    return getattr(raise_interrupted, "came", False)


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


class PassContractError(ModelError):
    """A compiler pass left the model in a state the next one cannot take (a
    bug of smartspec, not of the model): the message names the pass."""
    exit_code = 70


class SpecError(ModelError):
    """A bad sweep, scenario, calibration or evaluation spec or data file."""


def did_you_mean(name: str, names: dict[str, str]) -> str:
    """'; did you mean 'X'?' for the display name X of the closest of `names`
    (canonical -> display) to the canonical `name`, or '' when none is close."""
    import difflib
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.8)
    return f"; did you mean '{names[close[0]]}'?" if close else ""


def finite_number(what: str, value, at: str = "", note: str = "") -> float:
    """`value` (a number or its text) as a float, else ParameterError naming `what` (the
    modeller's variable, a control, a spec's key) and the value as given; `at` (a file:line)
    leads the message, `note` ends it. Every value a run is given goes through this:
    an infinite or NaN override (or a number beyond a double's range, as 1e400, which
    reads as inf) runs a model that no file could be written with, and the run's values
    would follow it in silence."""
    lead = f"{at}: " if at else ""
    try:
        x = float(value)
    except OverflowError:   # a whole number beyond a double's range
        x = math.inf
    except (TypeError, ValueError):
        raise ParameterError(f"{lead}value for {what} is not a number: {value!r}{note}") from None
    if not math.isfinite(x):
        shown = value.strip() if isinstance(value, str) else f"{x:g}" if isinstance(value, float) else repr(value)
        if len(shown) > 40:
            shown = shown[:37] + "..."
        raise ParameterError(f"{lead}{what} must be a finite number, got {shown}{note}")
    return x


class StepSizeError(Exception):
    """Raised by a kernel's RK4 Auto step (backend/kernel_step.py) that could not bring every
    stock's error within the tolerances; args: the time the TIME STEP starts at and the
    shortest sub-step tried. The runtime reports it as a ParameterError (single.kernel_call)."""
