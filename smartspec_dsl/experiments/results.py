"""What a sweep returns (`sweep`) and what a stored sweep reads back as (`store.load`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..runtime.result import some_names, span_text

PARAM_PREFIX = "param:"


@dataclass
class SweepResult:
    """Result of `sweep`.

    `runs` run ids; `params` {constant display name: value per run}; `labels`
    scenario name per run or None; `seeds` per-run seeds; `time` kept saved
    times; `outputs` output display names; `values` (runs, times, outputs) or
    None when keep_runs=False; `stats` {stat: (times, outputs)} or None;
    `stats_error` per-cell bound on the percentile error (None when exact).

    With keep_runs=False nothing per run is kept, so that memory does not grow
    with the number of runs: `runs` is `range(n)`, `params` is {} and `seeds`
    and `labels` are None. Keep them with keep_runs=True, or write the sweep to
    a store (params.parquet holds every run's parameters and seed)."""
    runs: np.ndarray | range
    params: dict[str, np.ndarray]
    time: np.ndarray
    outputs: list[str]
    values: np.ndarray | None = None
    stats: dict[str, np.ndarray] | None = None
    stats_error: np.ndarray | None = None
    seed: int = 0
    seeds: np.ndarray | None = None
    labels: np.ndarray | None = None
    elapsed: float = 0.0
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        kept = "values kept" if self.values is not None else "no values kept"
        stats = f"stats {', '.join(self.stats)}" if self.stats else "no stats"
        return (f"<SweepResult: {len(self.runs):,} runs x {span_text(self.time)} x "
                f"{len(self.outputs)} outputs ({some_names(self.outputs, 3)}); {kept}; {stats}; seed {self.seed}>")

    def _out(self, name: str) -> int:
        key = ir.canonical_reference(name)
        for i, c in enumerate(self.outputs):
            if ir.canonical_reference(c) == key:
                return i
        raise KeyError(name)

    def __getitem__(self, output: str) -> np.ndarray:
        """(runs, times) values of one output."""
        if self.values is None:
            raise ValueError("this sweep did not keep runs (keep_runs=False)")
        return self.values[:, :, self._out(output)]

    def param_frame(self):
        import pandas as pd
        df = pd.DataFrame({"run": self.runs})
        if self.seeds is not None:
            df["seed"] = self.seeds
        if self.labels is not None:
            df["scenario"] = self.labels
        for k, v in self.params.items():
            df[PARAM_PREFIX + k] = v
        return df

    def to_pandas(self, layout: str = "long", params: bool = True):
        """Runs as a DataFrame.

        layout="long": one row per (run, saved time): `run`, [`seed`,
        `scenario`, `param:NAME`...], `time`, then one column per output.
        layout="wide": one row per run, index `run`; columns are a MultiIndex
        (output, time), preceded by ("param:NAME", "") columns when params.
        layout="stats": one row per (statistic, time), one column per output."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError("SweepResult.to_pandas() needs pandas: pip install 'smartspec[pandas]'") from err
        if layout == "stats":
            if not self.stats:
                raise ValueError("this sweep computed no statistics")
            frames = [pd.DataFrame(v, columns=self.outputs).assign(stat=k, time=self.time)
                      for k, v in self.stats.items()]
            return pd.concat(frames, ignore_index=True)[["stat", "time"] + self.outputs]
        if self.values is None:
            raise ValueError("this sweep did not keep runs (keep_runs=False); use layout='stats'")
        n, t, o = self.values.shape
        if layout == "long":
            df = pd.DataFrame(self.values.reshape(n * t, o), columns=self.outputs)
            df.insert(0, "time", np.tile(self.time, n))
            if params:
                pf = self.param_frame().loc[np.repeat(np.arange(n), t)].reset_index(drop=True)
                df = pd.concat([pf, df], axis=1)
            else:
                df.insert(0, "run", np.repeat(self.runs, t))
            return df
        if layout == "wide":
            cols = pd.MultiIndex.from_product([self.outputs, self.time], names=["output", "time"])
            df = pd.DataFrame(self.values.transpose(0, 2, 1).reshape(n, o * t), columns=cols,
                              index=pd.Index(self.runs, name="run"))
            if params:
                pf = self.param_frame().set_index("run").drop(columns=["seed"], errors="ignore")
                pf.columns = pd.MultiIndex.from_tuples([(c, "") for c in pf.columns], names=["output", "time"])
                df = pd.concat([pf, df], axis=1)
            return df
        raise ValueError(f"layout must be 'long', 'wide' or 'stats', not {layout!r}")
