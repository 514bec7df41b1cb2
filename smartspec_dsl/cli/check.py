"""`smartspec check`: parse, lower and order a model without running it (and check its units)."""
from __future__ import annotations

import sys
import time
from collections import Counter

from ..backend.codegen import generate
from ..explore.catalog import range_note
from ..frontend.source import parse_file
from ..passes.consteval import control_problems
from ..passes.order import schedule
from ..passes.pipeline import lower
from ..passes.units import check_units
from .common import add_data_arguments, data_options


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    check = sub.add_parser("check", help="parse and order a model without running it")
    check.add_argument("model")
    check.add_argument("--units", action="store_true",
                       help="also check that every equation gives the units its variable declares "
                            "(exit 1 if not)")
    add_data_arguments(check)
    check.set_defaults(func=main)


def main(args) -> int:
    """Parse and order without running. Exit 0 when the model would run, 2 when `run`
    would refuse it (a syntax error, an unsupported feature, bad control variables: the
    same message as `run`), 1 when `--units` finds inconsistencies."""
    started = time.perf_counter()
    model = parse_file(args.model)
    for notice in model.notices:
        print(f"warning: {notice}", file=sys.stderr)
    for var in model.variables.values():
        note = range_note(var.units)
        if note:     # likely a typo; the explorer's sliders ignore such a range
            print(f"warning: {f'{var.pos}: ' if var.pos else ''}'{var.display}': {note}", file=sys.stderr)
    # an unsupported feature propagates: one `error:` line and exit 2, as `run` reports it,
    # and no summary before it that would read as success; the kernel's source is generated
    # (not compiled) so that what code generation refuses is refused here too
    sched = schedule(lower(model, data_options(args)))
    generate(sched)
    problems = control_problems(sched.model)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    counts = Counter(v.kind.value for v in model.variables.values())
    print(f"{args.model}: parsed ({len(model.variables)} variables, "
          f"{len(model.subscript_ranges)} subscript ranges, {len(model.macros)} macros)")
    for kind, plural in (("stock", "stocks"), ("flow", "flows"), ("auxiliary", "auxiliaries"),
                         ("constant", "constants"), ("lookup", "lookups"), ("data", "data")):
        print(f"  {plural:<12}{counts.get(kind, 0)}")
    hidden = sum(1 for v in sched.model.variables.values() if v.hidden)
    print(f"  {'lowered':<12}{hidden} internal variables from stateful functions")
    print(f"ok: ordered {len(sched.initial)} initial and {len(sched.dynamic)} per-step equations "
          f"({time.perf_counter() - started:.2f} s)")
    if not args.units:
        return 0
    issues = check_units(model)
    for issue in issues:
        print(issue)
    print(f"units: {len(issues)} inconsistenc{'y' if len(issues) == 1 else 'ies'}" if issues else
          "units: consistent")
    return 1 if issues else 0
