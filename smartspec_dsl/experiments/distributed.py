"""Run a sweep's chunks on dask.distributed workers.

    from dask.distributed import Client
    res = sweep(model, sampler, client=Client("tcp://scheduler:8786"), store=SweepStore("out"))
    smartspec sweep MODEL.mdl --spec SPEC.toml -o OUT --dask tcp://scheduler:8786

Each task carries one chunk's slice of the parameter table (never the whole
table). A worker loads the model once per process from its path (through the
kernel cache, so the model file and the cache directory, or a writable one,
must be reachable from the workers), runs the chunk with `run_batch`, and, when
the sweep has a store, writes the chunk file itself (atomically; the output
directory must be on a filesystem the workers share). The client consumes
results in chunk order, so statistics and kept values are identical to a
local sweep; chunks already in the store are read back instead (resume).
"""
from __future__ import annotations

from ..errors import SpecError
from ..runtime.loader import load
from .store import SweepStore, write_parquet

_MODELS: dict = {}


def client_for(address: str):
    try:
        from dask.distributed import Client
    except ImportError as err:
        raise SpecError("--dask needs dask.distributed: pip install 'smartspec[dask]'") from err
    try:
        return Client(address, timeout="20s")
    except OSError as err:
        raise SpecError(f"--dask {address}: cannot reach the scheduler: {err}") from None


def _model(path: str):
    m = _MODELS.get(path)
    if m is None:
        m = _MODELS[path] = load(path)
    return m


def _run_chunk(model_path: str, sub, i: int, store_dir, layout, write: bool):
    """Chunk i (the plan `sub`): its values and its number of runs with simulation warnings."""
    model = _model(model_path)
    vals = sub.run_chunk(model, 0)
    if write:
        st = SweepStore(store_dir)
        st.layout = layout
        write_parquet(st.chunk_path(i), st._table(sub, 0, vals, sub.warned))
    return vals, sub.warned


def run_chunks(client, model, plan, store, consume, window: int | None = None) -> None:
    """Run every missing chunk, at most `window` at a time (default: twice the
    cluster's threads, at least 4), so that the client's memory does not grow
    with the number of runs; feed `consume(i, values, runs with warnings)` in chunk order."""
    from dask.distributed import as_completed
    if window is None:
        window = max(4, 2 * sum(client.nthreads().values()))
    resumed = {i for i in range(plan.n_chunks) if store is not None and store.has_chunk(i)}
    todo = (i for i in range(plan.n_chunks) if i not in resumed)
    digest = plan.digest()[:12]
    running: dict = {}
    ready: dict = {}
    pending = as_completed()
    nxt = 0

    def submit():
        while len(running) < window:
            i = next(todo, None)
            if i is None:
                return
            fut = client.submit(_run_chunk, str(model.path), plan.slice(i), i,
                                None if store is None else str(store.dir),
                                None if store is None else store.layout, store is not None,
                                key=f"smartspec-chunk-{digest}-{i}", pure=False)
            running[fut] = i
            pending.add(fut)

    def flush():
        nonlocal nxt
        while nxt < plan.n_chunks:
            if nxt in ready:
                consume(nxt, *ready.pop(nxt))
            elif nxt in resumed:
                consume(nxt, store.read_chunk(nxt), store.chunk_warnings(nxt))
            else:
                return
            nxt += 1

    try:
        submit()
        flush()
        for fut in pending:
            i = running.pop(fut)
            ready[i] = fut.result()
            if store is not None:
                store.mark_done(i)
            flush()
            submit()
    finally:
        for fut in running:
            fut.cancel()
    flush()
