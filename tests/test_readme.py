"""The README's Python examples run as written, from the repository's root, one after
the other in one interpreter (a later example uses the `model` an earlier one loaded)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_examples() -> list[str]:
    """The README's ```python blocks, but those that use PySD (the migration table's PySD
    side, checked where PySD is installed, in benchmarks/)."""
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(encoding="utf-8"),
                        flags=re.S | re.M)
    return [b for b in blocks if "pysd" not in b.lower()]


def test_readme_python_examples_run():
    for module in ("pandas", "matplotlib", "pyarrow", "SALib", "scipy"):
        pytest.importorskip(module)      # the extras the examples name
    examples = python_examples()
    assert len(examples) >= 2
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.run([sys.executable, "-c", "\n".join(examples)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
