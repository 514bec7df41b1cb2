"""Sweep results on disk: Parquet chunks plus a JSON manifest.

Directory layout (`OUT/`):

    manifest.json               what the sweep is and how far it got (rewritten atomically)
    params.parquet              run, seed, [scenario], param:NAME ... (one row per run; written
                                when the sweep starts, block by block)
    chunks/chunk-000000.parquet one file per chunk of runs, written atomically
    stats.parquet               statistics, when asked for (written at the end)

Chunk schema, layout "wide" (default when one time is kept): one row per run,

    run: int64, seed: uint64, [scenario: string], param:NAME: float64 ...,
    "OUTPUT@TIME": float64 ... (for each output, for each kept time; TIME
    formatted with %.17g, e.g. "Teacup Temperature@30")

layout "long" (default when several times are kept): one row per run per
kept time, runs in order and times in order within a run,

    run: int64, seed: uint64, [scenario: string], param:NAME: float64 ...,
    time: float64, OUTPUT: float64 ... (one column per output)

stats.parquet: one row per (statistic, time): stat: string, time: float64,
OUTPUT: float64 ...; plus stat "error_bound" rows when percentiles were
estimated from histograms (see stats.py).

manifest.json: {"format": "smartspec-sweep/1", "model": path, "model_hash":
sha256 of the model file, "spec_hash": sha256 of everything that fixes the
chunks' contents (parameter table, seed, outputs, times, chunk size, run
options), "spec_file", "spec_file_hash", "runs", "chunk_size", "n_chunks",
"chunks_done": [...], "chunk_sha256": {chunk: sha256 of its file}, "complete": bool, "layout", "outputs", "time",
"parameters", "schema": {column: type}}.

Each chunk file's schema metadata holds the number of its runs that had
simulation warnings (key `smartspec.runs_with_warnings`), written with its
values, so that a resumed sweep or one whose chunks ran on other machines
still counts every run.

Each chunk file is written to a temporary name in `chunks/` and moved into
place with os.replace, so a chunk file that exists is complete; an interrupted
sweep keeps every finished chunk. Resuming (`SweepStore(..., resume=True)`)
checks the model and spec hashes and runs only the chunks whose files are
missing or damaged (unreadable, the wrong size, or bytes that no longer match
their digest); the final files equal those of an uninterrupted sweep.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np

from ..errors import SpecError
from ..files import replacing, write_bytes
from .results import SweepResult

FORMAT = "smartspec-sweep/1"
WARNED_KEY = b"smartspec.runs_with_warnings"   # chunk metadata: its runs with simulation warnings


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as err:
        raise SpecError("writing sweeps to disk needs pyarrow: pip install 'smartspec[sweep]'") from err
    return pa, pq


def write_parquet(path: Path, table) -> None:
    """One Parquet table (zstd), written atomically."""
    _, pq = _pa()
    with replacing(path, ".tmp") as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _write_parquet_stream(path: Path, schema, tables) -> None:
    """One Parquet file from an iterable of tables (one row group each), written as it comes."""
    _, pq = _pa()
    with replacing(path, ".tmp") as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
            for t in tables:
                w.write_table(t)


def time_label(t: float) -> str:
    return format(float(t), ".17g")


def model_hash(path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _hash_file(path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


class SweepStore:
    """Writes (and reads back) one sweep's directory. Pass it as `sweep(..., store=...)`."""

    def __init__(self, directory, layout: str | None = None, resume: bool = False,
                 spec_file: str | None = None, overwrite: bool = False, log=None):
        if layout not in (None, "wide", "long"):
            raise SpecError(f"layout must be 'wide' or 'long', not {layout!r}")
        self.dir = Path(directory)
        self.chunk_dir = self.dir / "chunks"
        self.layout_arg, self.resume, self.overwrite = layout, resume, overwrite
        self.spec_file = spec_file
        self.manifest: dict = {}
        # hears about damaged files found when resuming (default: a warning)
        self.log = log or (lambda message: warnings.warn(message, stacklevel=3))

    # -- paths
    def chunk_path(self, i: int) -> Path:
        return self.chunk_dir / f"chunk-{i:06d}.parquet"

    def has_chunk(self, i: int) -> bool:
        return self.chunk_path(i).is_file()

    # -- lifecycle
    def begin(self, model, plan) -> None:
        _pa()
        layout = self.layout_arg or ("wide" if len(plan.time) == 1 else "long")
        manifest = {
            "format": FORMAT, "model": str(model.path), "model_hash": model_hash(model.path),
            "spec_hash": plan.digest(), "spec_file": self.spec_file,
            "spec_file_hash": _hash_file(self.spec_file) if self.spec_file else None,
            "runs": plan.n, "seed": plan.seed, "chunk_size": plan.chunk_size, "n_chunks": plan.n_chunks,
            "chunks_done": [], "chunk_sha256": {}, "complete": False, "layout": layout,
            "outputs": plan.output_names, "time": [float(t) for t in plan.time],
            "parameters": plan.names, "scenarios": plan.has_labels,
            "run_options": plan.run_kw,
        }
        mpath = self.dir / "manifest.json"
        if mpath.exists():
            try:
                old = json.loads(mpath.read_text())
            except (OSError, ValueError):
                old = None
            if self.resume:
                if old is None or old.get("format") != FORMAT:
                    raise SpecError(f"{mpath}: not a sweep manifest; cannot resume")
                if old.get("model_hash") != manifest["model_hash"]:
                    raise SpecError(f"{mpath}: the model changed since this sweep started; "
                                    "cannot resume (use a new output directory)")
                if old.get("spec_hash") != manifest["spec_hash"]:
                    raise SpecError(f"{mpath}: the sweep spec changed since this sweep started "
                                    "(parameters, seed, outputs, times or chunk size); cannot resume")
                layout = manifest["layout"] = old["layout"]
                manifest["chunk_sha256"] = old.get("chunk_sha256", {})
            elif not self.overwrite:
                raise SpecError(f"{self.dir}: already holds a sweep; use --resume to finish it, "
                                "or another output directory")
            else:
                for f in self.chunk_dir.glob("chunk-*.parquet"):
                    f.unlink()
                for f in ("stats.parquet", "params.parquet"):
                    if (self.dir / f).exists():
                        (self.dir / f).unlink()
        elif self.resume and self.chunk_dir.exists() and any(self.chunk_dir.iterdir()):
            raise SpecError(f"{mpath}: missing; cannot resume")
        self.chunk_dir.mkdir(parents=True, exist_ok=True)
        self.layout = layout
        schema = self._schema(plan)
        manifest["schema"] = {f.name: str(f.type) for f in schema}
        if self.resume:
            self._drop_damaged(plan, manifest)
        manifest["chunks_done"] = [i for i in range(plan.n_chunks) if self.has_chunk(i)]
        self.manifest = manifest
        self._write_manifest()
        if not (self.dir / "params.parquet").exists():
            _write_parquet_stream(self.dir / "params.parquet", self._param_table(plan, 0, 0, 1).schema,
                           (self._param_table(plan, s, s + len(p.seeds), 1, p) for s, p in plan.blocks()))

    def _drop_damaged(self, plan, manifest) -> None:
        """Before resuming: remove what an interrupted or killed sweep may have left
        behind: temporary files, chunks whose bytes differ from the digest recorded when
        they were written (or, with none recorded, that cannot be read back whole or hold
        the wrong number of rows), and an unreadable parameter table. Each damaged file
        is named (`log`) and its runs are computed again."""
        _, pq = _pa()
        ours = (".chunk-", ".params.parquet.", ".stats.parquet.", ".manifest.json.")
        for folder in (self.dir, self.chunk_dir):
            for tmp in (folder.iterdir() if folder.is_dir() else ()):
                if tmp.name.startswith(ours) and tmp.is_file():   # `files.replacing`'s names
                    tmp.unlink()
        rows_per_run = 1 if manifest["layout"] == "wide" else len(plan.time)
        for i in range(plan.n_chunks):
            path = self.chunk_path(i)
            if not path.is_file():
                continue
            digest = manifest["chunk_sha256"].pop(str(i), None)
            actual = _hash_file(path)
            if digest is not None:          # written and recorded: its digest says it all
                problem = None if digest == actual else "its bytes changed since it was written"
            else:                           # written, then killed before it was recorded
                s, e = plan.bounds(i)
                try:
                    n = read_values(path, manifest).shape[0]
                    problem = None if n == e - s else \
                        f"{n * rows_per_run} rows instead of {(e - s) * rows_per_run}"
                except Exception as err:    # noqa: BLE001 - pyarrow reports damage in many ways
                    problem = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            if problem is None and self.chunk_warnings(i) is None:
                problem = "written without its count of runs with warnings"
            if problem is not None:
                self.log(f"{path}: damaged ({problem}); its runs are computed again")
                path.unlink()
            else:
                manifest["chunk_sha256"][str(i)] = actual
        params = self.dir / "params.parquet"
        if params.is_file():
            try:
                ok = pq.read_table(params).num_rows == plan.n
            except Exception:           # noqa: BLE001
                ok = False
            if not ok:
                self.log(f"{params}: damaged; written again")
                params.unlink()

    def _write_manifest(self) -> None:
        digests = self.manifest.get("chunk_sha256")
        if digests:   # in chunk order, however the chunks were finished
            self.manifest["chunk_sha256"] = dict(sorted(digests.items(), key=lambda kv: int(kv[0])))
        write_bytes(self.dir / "manifest.json", json.dumps(self.manifest, indent=1).encode())

    def _schema(self, plan):
        return self._table(plan, 0, np.zeros((0, len(plan.time), len(plan.output_names)))).schema

    def _param_table(self, plan, s, e, repeat, params=None):
        pa, _ = _pa()
        p = params if params is not None else plan.run_params(s, e)
        cols = {"run": pa.array(np.repeat(np.arange(s, e, dtype=np.int64) + plan.run0, repeat)),
                "seed": pa.array(np.repeat(p.seeds, repeat))}
        if plan.has_labels:
            cols["scenario"] = pa.array(np.repeat(np.asarray(p.labels, dtype=str), repeat))
        for k in plan.names:
            cols["param:" + k] = pa.array(np.repeat(p.columns[k], repeat))
        return pa.table(cols)

    def _table(self, plan, s, vals, warned: int | None = None):
        """The chunk of runs from `s` on as a table; `warned` (its runs with simulation
        warnings) goes in the schema's metadata."""
        pa, _ = _pa()
        n, T, O = vals.shape
        if self.layout == "wide":
            t = self._param_table(plan, s, s + n, 1)
            for j, out in enumerate(plan.output_names):
                for k, tm in enumerate(plan.time):
                    t = t.append_column(f"{out}@{time_label(tm)}", pa.array(vals[:, k, j]))
        else:
            t = self._param_table(plan, s, s + n, T)
            t = t.append_column("time", pa.array(np.tile(np.asarray(plan.time, dtype=np.float64), n)))
            flat = vals.reshape(n * T, O)
            for j, out in enumerate(plan.output_names):
                t = t.append_column(out, pa.array(flat[:, j]))
        if warned is not None:
            t = t.replace_schema_metadata({**(t.schema.metadata or {}), WARNED_KEY: str(int(warned)).encode()})
        return t

    def write_chunk(self, i: int, plan, vals: np.ndarray, warned: int) -> None:
        """Chunk i's values (runs, times, outputs) and its number of runs with warnings."""
        s, _ = plan.bounds(i)
        write_parquet(self.chunk_path(i), self._table(plan, s, vals, warned))
        self.mark_done(i)

    def mark_done(self, i: int) -> None:
        done = set(self.manifest.get("chunks_done", []))
        done.add(i)
        self.manifest["chunks_done"] = sorted(done)
        # its digest, so that a resume finds any later damage, not only what stops pyarrow
        self.manifest.setdefault("chunk_sha256", {})[str(i)] = _hash_file(self.chunk_path(i))
        self._write_manifest()

    def read_chunk(self, i: int) -> np.ndarray:
        """(runs, times, outputs) values of chunk i."""
        return read_values(self.chunk_path(i), self.manifest)

    def chunk_warnings(self, i: int) -> int | None:
        """How many runs of chunk i had simulation warnings; None when its file does not say
        (written before the count was kept: a resume computes such a chunk again)."""
        _, pq = _pa()
        meta = pq.read_schema(self.chunk_path(i)).metadata or {}
        return int(meta[WARNED_KEY]) if WARNED_KEY in meta else None

    def finish(self, plan, stats, error) -> None:
        pa, _ = _pa()
        if stats:
            rows = list(stats.items()) + ([("error_bound", error)] if error is not None else [])
            cols = {"stat": pa.array([k for k, _ in rows for _ in plan.time]),
                    "time": pa.array(np.tile(np.asarray(plan.time, dtype=np.float64), len(rows)))}
            stacked = np.concatenate([v for _, v in rows], axis=0)
            for j, out in enumerate(plan.output_names):
                cols[out] = pa.array(stacked[:, j])
            write_parquet(self.dir / "stats.parquet", pa.table(cols))
        self.manifest["chunks_done"] = [i for i in range(plan.n_chunks) if self.has_chunk(i)]
        self.manifest["complete"] = len(self.manifest["chunks_done"]) == plan.n_chunks
        self.manifest["stats"] = list(stats) if stats else []
        self._write_manifest()


def read_values(path, manifest) -> np.ndarray:
    _, pq = _pa()
    outputs, times = manifest["outputs"], manifest["time"]
    T, O = len(times), len(outputs)
    if manifest["layout"] == "wide":
        names = [f"{o}@{time_label(t)}" for o in outputs for t in times]
        tab = pq.read_table(path, columns=names)
        n = tab.num_rows
        arr = np.column_stack([tab.column(c).to_numpy() for c in names]) if names else np.zeros((n, 0))
        return arr.reshape(n, O, T).transpose(0, 2, 1).copy()
    tab = pq.read_table(path, columns=outputs)
    n = tab.num_rows // max(T, 1)
    arr = np.column_stack([tab.column(c).to_numpy() for c in outputs]) if outputs else np.zeros((n * T, 0))
    return arr.reshape(n, T, O)


def read_manifest(directory) -> dict:
    path = Path(directory) / "manifest.json"
    try:
        m = json.loads(path.read_text())
    except OSError as err:
        raise SpecError(f"{path}: cannot read sweep manifest: {err.strerror or err}") from None
    except ValueError as err:
        raise SpecError(f"{path}: not valid JSON: {err}") from None
    if m.get("format") != FORMAT:
        raise SpecError(f"{path}: not a smartspec sweep manifest")
    return m


def load(directory, values: bool = True):
    """A stored sweep as a SweepResult (values of the finished chunks; runs of
    missing chunks are left out)."""
    _, pq = _pa()
    directory = Path(directory)
    m = read_manifest(directory)
    params = pq.read_table(directory / "params.parquet").to_pandas()
    chunk_size, n = m["chunk_size"], m["runs"]
    done = [i for i in range(m["n_chunks"]) if (directory / "chunks" / f"chunk-{i:06d}.parquet").is_file()]
    keep = np.concatenate([np.arange(i * chunk_size, min(n, (i + 1) * chunk_size)) for i in done]) \
        if done else np.zeros(0, dtype=np.int64)
    vals = None
    if values:
        parts = [read_values(directory / "chunks" / f"chunk-{i:06d}.parquet", m) for i in done]
        vals = np.concatenate(parts) if parts else np.zeros((0, len(m["time"]), len(m["outputs"])))
    stats = err = None
    if (directory / "stats.parquet").exists():
        st = pq.read_table(directory / "stats.parquet").to_pandas()
        stats = {}
        for name, g in st.groupby("stat", sort=False):
            arr = g[m["outputs"]].to_numpy()
            if name == "error_bound":
                err = arr
            else:
                stats[name] = arr
    p = params.set_index("run").loc[keep]
    columns = {k: p["param:" + k].to_numpy() for k in m["parameters"]}
    return SweepResult(keep.astype(np.int64), columns, np.asarray(m["time"]), list(m["outputs"]), vals,
                       stats, err, m.get("seed", 0), p["seed"].to_numpy(),
                       p["scenario"].to_numpy() if "scenario" in p else None, info={"manifest": m})
