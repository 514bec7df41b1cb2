"""ARCHITECTURE.md stays true: every module and `module.py::name` it names exists."""
import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "smartspec_dsl"


def _references():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    # `frontend/parse.py::parse_model`, `passes/order.py`, `ir/builtins.py::ARRAY_DRIVERS`
    return sorted(set(re.findall(r"`((?:[a-z_]+/)+[a-z_]+\.py)(?:::([A-Za-z_][\w.]*))?`", text)))


def test_architecture_names_real_modules_and_functions():
    refs = _references()
    assert len(refs) > 20, "the pipeline list should name its modules"
    missing = []
    for path, name in refs:
        path = path.removeprefix("smartspec_dsl/")
        file = ROOT / path if path.startswith(("tests/", "benchmarks/")) else PACKAGE / path
        if not file.is_file():
            missing.append(path)
            continue
        if name:
            dotted = path[:-3].replace("/", ".").removesuffix(".__init__")
            module = importlib.import_module("smartspec_dsl." + dotted)
            obj = module
            for part in name.split("."):
                obj = getattr(obj, part, None)
            if obj is None:
                missing.append(f"{path}::{name}")
    assert not missing, f"ARCHITECTURE.md names what does not exist: {missing}"


MAX_MODULE_LINES = 600   # "small modules with one job each": split a module along its seams first


def test_every_module_is_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 50
    large = {p: n for p, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not large, f"modules over {MAX_MODULE_LINES} lines: {large}"
