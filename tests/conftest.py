import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smartspec_dsl

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(*parts) -> Path:
    """A path in ../shared, or skip the test with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not found: {path} (clone the project with ../shared beside it)")
    return path


@pytest.fixture(scope="module")
def teacup_path() -> Path:
    """The SDXorg suite's teacup (the model most tests of the run's surface use)."""
    return shared_path("test-models", "samples", "teacup", "teacup.mdl")


@pytest.fixture(scope="module")
def teacup(teacup_path):
    """The teacup, loaded once per test module."""
    return smartspec_dsl.load(teacup_path)


def equations(*lines: str) -> str:
    """A model's text, one equation (or subscript range, or lookup) per line, with empty
    units and comments."""
    return "{UTF-8}\n" + "\n".join(f"{line}\n\t~\t\n\t~\t\n\t|\n" for line in lines)


def model_file(folder: Path, text: str) -> Path:
    """`text` written into `folder` under a name made from its hash: one file per model, so the
    tests of a module that build the same model share its kernel."""
    path = folder / f"m_{hashlib.sha256(text.encode()).hexdigest()[:16]}.mdl"
    path.write_text(text)
    return path


def load_text(folder: Path, text: str, **options):
    """The model of `text` (written by `model_file`), loaded with `options`."""
    return smartspec_dsl.load(model_file(folder, text), **options)


def run_cli(*args, cwd=None, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`smartspec ARGS` in a new process, as a shell runs it (this checkout first on the
    path, `env` added to the environment): its exit status, stdout and stderr as text."""
    full = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-m", "smartspec_dsl.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=full, timeout=timeout)


def cli(argv: list) -> int:
    """`smartspec ARGV` in this process: its exit status (argparse's own exits too)."""
    from smartspec_dsl.cli import main
    try:
        return main([str(a) for a in argv])
    except SystemExit as exit:        # --help, --version, bad values
        return exit.code


def population(n: int = 7, controls: str | None = None, extra: str = "") -> str:
    """The population model (tests/data/population.mdl: stocks, flows, SMOOTH, DELAY3, a lookup,
    SUMs every element shares, over a `Region` range; benchmarks/arrays_bench.py's too) over
    `n` regions, with the equations `extra`, and `controls` instead of its own when given."""
    text = (ROOT / "tests" / "data" / "population.mdl").read_text().replace("Region: (r1-r7)", f"Region: (r1-r{n})", 1)
    head, own = text.split("INITIAL TIME", 1)
    return head + extra + (controls if controls is not None else "INITIAL TIME" + own)


def check(result, name: str, expected) -> None:
    """A run's values of `name` against `expected`, to 1e-12."""
    np.testing.assert_allclose(result[name], expected, rtol=1e-12, atol=1e-12, err_msg=name)


def assert_same_run(name: str, ahead, jit, tier: str) -> None:
    """Two runs of `tier`, one on code compiled ahead of time and one on Numba's, give the
    same columns, values (bit for bit) and warnings."""
    assert ahead.tier == jit.tier == tier, name
    assert ahead.columns == jit.columns, name
    assert np.array_equal(ahead.values, jit.values, equal_nan=True), f"{name}: the ahead-of-time code differs"
    assert [str(w) for w in ahead.warnings] == [str(w) for w in jit.warnings], name


@pytest.fixture(scope="session", autouse=True)
def _kernel_cache(tmp_path_factory):
    """Tests compile into a private kernel cache, never the user's."""
    if "SMARTSPEC_TEST_KEEP_CACHE" not in os.environ:
        os.environ["SMARTSPEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    # no worker processes compiling kernels behind the tests: a run with the default tier
    # ("auto") uses the interpreter, tier="compiled" compiles in the test's own process
    os.environ.setdefault("SMARTSPEC_BACKGROUND_COMPILE", "0")
    yield
