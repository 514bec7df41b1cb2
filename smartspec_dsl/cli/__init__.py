"""The `smartspec` command line."""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numba
import numpy as np

from ..app import evaluate
from ..errors import ModelError, ParameterError, SpecError, UnsupportedFeature
from ..experiments.distributed import client_for
from ..experiments.store import SweepStore, read_manifest
from ..experiments.sweep import SPEC_DOC, read_spec, sweep
from ..files import check_writable, replacing
from ..frontend.external import DataOptions
from ..frontend.source import XMILE_SUFFIXES, parse_file
from ..frontend.mdl_write import write_mdl
from ..frontend.xmile_write import write_xmile
from ..passes.pipeline import lower
from ..passes.consteval import control_problems
from ..passes.order import schedule
from ..passes.units import check_units
from ..runtime import load
from . import bench, calibrate, plot, sensitivity
from .common import compile_note, parse_sets


def write_table(path: str | Path, time_values, columns, values) -> None:
    """Write `Time` then every column, full precision, atomically (CSV, or TSV for .tab/.tsv)."""
    path = Path(path)
    sep = "\t" if path.suffix.lower() in (".tab", ".tsv") else ","

    header = io.StringIO()
    csv.writer(header, delimiter=sep, lineterminator="\n").writerow(["Time"] + list(columns))
    header = header.getvalue()[:-1]
    table = np.column_stack([np.asarray(time_values, dtype=float), values]) if len(columns) else \
        np.asarray(time_values, dtype=float)[:, None]
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(header + "\n")
        np.savetxt(f, table, fmt="%.17g", delimiter=sep)


def _data_options(args):
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
        if path.suffix.lower() not in (".csv", ".tab", ".tsv", ".xlsx", ".xlsm", ".xls"):
            raise ParameterError(f"--data {file}: expected a .csv, .tab or .xlsx file")
        files.append(path)
    return DataOptions(tuple(files), aliases)


def _add_data_arguments(parser) -> None:
    parser.add_argument("--data", action="append", metavar="FILE",
                        help="data file for the model's data variables (.csv, .tab, .xlsx; "
                             "repeatable; default: the .csv/.tab files next to the model)")
    parser.add_argument("--data-alias", action="append", metavar="NAME=FILE",
                        help="the file a GET function's '?NAME' file argument stands for")


def cmd_run(args) -> int:
    model = load(args.model, log=compile_note, data=_data_options(args))
    result = model.run(params=parse_sets(args.set), final_time=args.final_time,
                       time_step=args.time_step, saveper=args.saveper, method=args.method,
                       changes=args.changes or None, seed=args.seed, initial_time=args.initial_time,
                       strict=args.strict)
    if not args.quiet:
        print_warnings(result.warnings)
    if args.output:
        try:
            write_table(args.output, result.time, result.columns, result.values)
        except OSError as err:
            raise ModelError(f"{args.output}: cannot write output: {err.strerror or err}") from None
        print(f"{args.model}: {len(result.time)} saved times x {len(result.columns)} variables "
              f"-> {args.output} (load {model.compile_seconds:.2f} s, "
              f"{'cached kernel' if model.cached else 'compiled'})", file=sys.stderr)
    else:
        _print_table(result)
    return 0


def print_warnings(warnings, shown: int = 20) -> None:
    """A run's simulation warnings on stderr, the first `shown` of them and a count of the rest."""
    for w in warnings[:shown]:
        print(f"warning: {w}", file=sys.stderr)
    if len(warnings) > shown:
        print(f"warning: ... and {len(warnings) - shown} more", file=sys.stderr)


def _print_table(result) -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["Time"] + result.columns)
    for t, row in zip(result.time, result.values):
        out.writerow([repr(float(t))] + [repr(float(x)) for x in row])


def cmd_check(args) -> int:
    """Parse and order without running: syntax errors exit 2, unsupported features exit 1."""
    started = time.perf_counter()
    model = parse_file(args.model)
    counts = Counter(v.kind.value for v in model.variables.values())
    print(f"{args.model}: parsed ({len(model.variables)} variables, "
          f"{len(model.subscript_ranges)} subscript ranges, {len(model.macros)} macros)")
    for kind, plural in (("stock", "stocks"), ("flow", "flows"), ("auxiliary", "auxiliaries"),
                         ("constant", "constants"), ("lookup", "lookups"), ("data", "data")):
        print(f"  {plural:<12}{counts.get(kind, 0)}")
    try:
        sched = schedule(lower(model, _data_options(args)))
    except UnsupportedFeature as err:
        print(f"unsupported: {err}", file=sys.stderr)
        return 1
    problems = control_problems(sched.model)
    if problems:
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
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


def cmd_convert(args) -> int:
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


def cmd_sweep(args) -> int:
    """Run a sweep spec (see `smartspec sweep --help-spec`) into an output directory."""
    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    model = load(args.model, log=compile_note)
    default_seed = None
    if args.resume and (Path(args.output) / "manifest.json").exists():
        default_seed = read_manifest(args.output).get("seed")   # a spec without a seed resumes with the first one
    spec = read_spec(args.spec, model, default_seed, args.chunk_size)
    store = SweepStore(args.output, layout=spec.layout, resume=args.resume, spec_file=spec.path,
                       overwrite=args.overwrite, log=lambda message: print(f"warning: {message}", file=sys.stderr))
    Path(args.output).mkdir(parents=True, exist_ok=True)
    progress = False if args.no_progress else None
    o = spec.options
    started = time.perf_counter()
    try:
        if args.dask:
            client = client_for(args.dask)
        else:
            client = None
        res = sweep(model, spec.sampler, keep_runs=False, stats=o.get("stats"), progress=progress,
                    store=store, percentile_bins=o.get("percentile_bins"), client=client)
    except KeyboardInterrupt:
        done = len(store.manifest.get("chunks_done", []))
        print(f"\ninterrupted: {done} of {store.manifest.get('n_chunks', '?')} chunks are saved in "
              f"{args.output}; finish with: smartspec sweep {args.model} --spec {args.spec} "
              f"-o {args.output} --resume", file=sys.stderr)
        return 130
    secs = time.perf_counter() - started
    n = len(res.runs)
    print(f"{args.model}: {n} runs x {len(res.time)} times x {len(res.outputs)} outputs in {secs:.2f} s "
          f"({n / secs if secs > 0 else float('inf'):,.0f} runs/s, {res.info['chunks']} chunks, seed {res.seed}) "
          f"-> {args.output}", file=sys.stderr)
    print_sweep_problems(res.info)
    return 0


def print_sweep_problems(info: dict) -> None:
    """The runs of a sweep that gave infinite or NaN values (per output) or simulation warnings."""
    for output, count in info.get("bad_runs", {}).items():
        print(f"warning: {count} run{'s' if count > 1 else ''} gave infinite or NaN values of "
              f"'{output}' (left out of the statistics)", file=sys.stderr)
    if info.get("runs_with_warnings"):
        n = info["runs_with_warnings"]
        print(f"warning: {n} run{'s' if n > 1 else ''} had simulation warnings (a lookup input or a "
              "variable outside its range); `smartspec run` with a run's values lists them", file=sys.stderr)


def cmd_plot(args) -> int:
    return plot.main(args)


def cmd_calibrate(args) -> int:
    return calibrate.main(args)


def cmd_sensitivity(args) -> int:
    return sensitivity.main(args)


def cmd_evaluate(argv) -> int:
    return evaluate.main(argv)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="smartspec", description="Compile and run Vensim models.")
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model and write its output")
    run.add_argument("model")
    run.add_argument("-o", "--output", help="output file (.csv, or .tab for tab-separated)")
    run.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant")
    run.add_argument("--initial-time", type=float)
    run.add_argument("--final-time", type=float)
    run.add_argument("--time-step", type=float)
    run.add_argument("--saveper", type=float)
    run.add_argument("--strict", action="store_true",
                     help="a value that becomes infinite or NaN is an error (exit 3, no output)")
    run.add_argument("--quiet", action="store_true", help="no simulation warnings on stderr")
    run.add_argument("--method", choices=["euler", "rk4"],
                     help="integration method (default: the model's own, e.g. XMILE sim_specs, else euler)")
    _add_data_arguments(run)
    run.add_argument("--changes", action="append", metavar="FILE.cin",
                     help="apply a Vensim changes file (constants and lookup tables); repeatable")
    run.add_argument("--seed", type=int, help="run seed for the model's random functions (default 0)")
    run.set_defaults(func=cmd_run)
    cal = sub.add_parser("calibrate", help="fit constants to targets by bounded least squares")
    cal.add_argument("model")
    cal.add_argument("--spec", required=True, help="calibration spec (TOML; see smartspec_dsl.experiments.calibrate)")
    cal.add_argument("-o", "--output", help="write the fitted constants as CSV")
    cal.add_argument("--no-progress", action="store_true", help="no progress line on a terminal")
    cal.set_defaults(func=cmd_calibrate)
    check = sub.add_parser("check", help="parse and order a model without running it")
    check.add_argument("model")
    check.add_argument("--units", action="store_true",
                       help="also check that every equation gives the units its variable declares "
                            "(exit 1 if not)")
    _add_data_arguments(check)
    check.set_defaults(func=cmd_check)
    cv = sub.add_parser("convert", help="write a model as XMILE (.xmile, .stmx, .itmx) or Vensim (.mdl)")
    cv.add_argument("model")
    cv.add_argument("-o", "--output", required=True, help="the file to write; its extension picks the format")
    cv.set_defaults(func=cmd_convert)
    sw = sub.add_parser("sweep", help="run a parameter sweep from a TOML spec into a directory",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="spec format:\n" + SPEC_DOC)
    sw.add_argument("model")
    sw.add_argument("--spec", required=True, help="sweep spec (TOML)")
    sw.add_argument("-o", "--output", required=True, help="output directory (Parquet chunks + manifest.json)")
    sw.add_argument("--resume", action="store_true", help="finish an interrupted sweep in OUTPUT")
    sw.add_argument("--overwrite", action="store_true", help="replace a sweep already in OUTPUT")
    sw.add_argument("--chunk-size", type=int, help="runs per chunk (overrides the spec)")
    sw.add_argument("--threads", type=int, help="Numba threads (default: all cores)")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    sw.add_argument("--dask", metavar="ADDRESS", help="run chunks on a dask.distributed scheduler")
    sw.set_defaults(func=cmd_sweep)
    pl = sub.add_parser("plot", help="plot a run (MODEL.mdl) or a sweep (its output directory) to PNG")
    pl.add_argument("target", help="a model file (time series of one run) or a sweep directory")
    pl.add_argument("-o", "--output", required=True, help="PNG file")
    pl.add_argument("--var", action="append", help="variable(s) to plot (default: stocks / the first output)")
    pl.add_argument("--kind", choices=["series", "fan", "scatter"],
                    help="series (model), fan (sweep, default) or scatter (sweep: output vs each parameter)")
    pl.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a constant (model)")
    pl.add_argument("--time", type=float, help="scatter: the saved time (default: the last)")
    pl.add_argument("--bands", default="5,25,50,75,95", help="fan: percentiles (default 5,25,50,75,95)")
    pl.set_defaults(func=cmd_plot)
    sa = sub.add_parser("sensitivity", help="Morris or Sobol sensitivity indices of a sweep spec's outputs")
    sa.add_argument("target", help="a model file (with --spec), or the output directory of such a sweep")
    sa.add_argument("--spec", help='sweep spec (TOML) with sampler = "morris" or "saltelli"')
    sa.add_argument("--time", type=float, help="the saved time to analyse (default: the final time)")
    sa.add_argument("-o", "--output", help="write the indices as CSV")
    sa.set_defaults(func=cmd_sensitivity)
    bench.add_parser(sub)
    sub.add_parser("evaluate", help="entropy-weight TOPSIS evaluation (see smartspec evaluate -h)",
                   add_help=False)
    return ap


def check_outputs(args) -> None:
    """Before any work: the output named by -o can be written (a file for every command
    but sweep, whose output is a directory)."""
    out = getattr(args, "output", None)
    if not out:
        return
    if args.command != "sweep":
        check_writable(out)
        return
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise SpecError(f"{out}: cannot write the sweep there: it is a file, and a sweep writes a "
                        "directory (of Parquet chunks and manifest.json)")
    existing = next((p for p in [path, *path.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SpecError(f"{out}: cannot write the sweep there: {existing} is not a writable directory")


def main(argv=None) -> int:
    """The command line; every error a user can cause is one line on stderr and exit 2,
    Ctrl-C is one line and exit 130, and a closed pipe (`| head`) ends quietly."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "evaluate":
            return cmd_evaluate(argv[1:])
        args = build_parser().parse_args(argv)
        check_outputs(args)
        return args.func(args)
    except ModelError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`smartspec run m.mdl | head`): nothing left to say, and
        # Python must not complain when it flushes stdout at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as err:
        where = err.filename if err.filename is not None else "error"
        print(f"error: {where}: {err.strerror or err}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory (see the limits in the README: a larger SAVEPER, fewer "
              "variables, smaller subscript ranges)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
