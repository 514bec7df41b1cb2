"""`smartspec calibrate`: fit constants to targets; the fit itself is `experiments.calibrate`."""
from __future__ import annotations

import argparse
import sys
import time

from ..experiments.calibrate import SPEC_DOC, calibrate, read_spec
from ..files import write_csv
from ..runtime import load
from .common import compile_note


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    cal = sub.add_parser("calibrate", help="fit constants to targets by bounded least squares",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="spec format (TOML):\n" + SPEC_DOC)
    cal.add_argument("model")
    cal.add_argument("--spec", required=True, help="calibration spec (TOML; its format is below)")
    cal.add_argument("-o", "--output", help="write the fitted constants as CSV")
    cal.add_argument("--no-progress", action="store_true", help="no progress line on a terminal")
    cal.set_defaults(func=main)


def main(args) -> int:
    spec = read_spec(args.spec)
    model = load(args.model, log=compile_note)
    show = _ProgressLine() if sys.stderr.isatty() and not getattr(args, "no_progress", False) else None
    try:
        result = calibrate(model, spec, progress=show)
    finally:
        if show:
            show.end()
    print(f"{args.model}: {'converged' if result.success else 'stopped'} after {result.evaluations} model runs "
          f"({result.message})")
    print(f"  cost (0.5 * sum of squared residuals): {result.cost:.6g}")
    for name, value in result.parameters.items():
        print(f"  {name:<40} {result.initial[name]:>14.6g} -> {value:.10g}")
    if args.output:
        write_csv(args.output, ["parameter", "initial", "fitted"],
                  ([n, repr(result.initial[n]), repr(v)] for n, v in result.parameters.items()))
    return 0


class _ProgressLine:
    """'calibrating: N model runs, lowest cost C' on one terminal line, at most five times a second."""

    def __init__(self):
        self.last = 0.0
        self.shown = False

    def __call__(self, runs: int, best: float) -> None:
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last, self.shown = now, True
            print(f"\rcalibrating: {runs:,} model runs, lowest cost {best:.6g}   ", end="", file=sys.stderr,
                  flush=True)

    def end(self) -> None:
        if self.shown:
            print(file=sys.stderr)
