import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def shared_path(*parts) -> Path:
    """A path in ../shared, or skip the test with a clear message when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference material not found: {path} (clone the project with ../shared beside it)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _kernel_cache(tmp_path_factory):
    """Tests compile into a private kernel cache, never the user's."""
    if "SMARTSPEC_TEST_KEEP_CACHE" not in os.environ:
        os.environ["SMARTSPEC_CACHE_DIR"] = str(tmp_path_factory.mktemp("kernel-cache"))
    # no worker processes compiling kernels behind the tests: a run with the default tier
    # ("auto") uses the interpreter, tier="compiled" compiles in the test's own process
    os.environ.setdefault("SMARTSPEC_BACKGROUND_COMPILE", "0")
    yield
