"""The keys of the machine code Numba caches for the package (backend/tier0.py, helper_cache.py).

Numba keys a cached function on its own file's text only; a constant it reads from another
file is frozen into its machine code, and so is the code of another file's helper it calls.
Every module that defines jitted code, and every package module it imports, must be among
`tier0.SOURCES`, whose hash keys both the interpreter's copy and the helpers' caches."""
from __future__ import annotations

import ast
import importlib
import shutil
from pathlib import Path

import pytest
from numba.core.dispatcher import Dispatcher

from smartspec_dsl.backend import helper_cache, tier0

PACKAGE = Path(tier0.__file__).resolve().parents[1]
# what no machine code holds: where the cache lives and its key; the exceptions the Python
# side of a module raises
NOT_COMPILED = {"backend/helper_cache.py", "backend/tier0.py", "errors.py"}


def _jitted(tree: ast.Module) -> bool:
    """Whether a module defines jitted code: njit/jit/intrinsic decorators at its top level."""
    def name(d):
        d = d.func if isinstance(d, ast.Call) else d
        return d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", "")
    return any(name(d) in ("njit", "jit", "intrinsic", "generated_jit", "overload")
               for node in tree.body if isinstance(node, ast.FunctionDef) for d in node.decorator_list)


def _imported(path: Path, tree: ast.Module) -> set[str]:
    """The package modules `path` imports from (as paths in the package), wherever the import is."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                parts = (node.module or "").split(".") if node.module else []
            elif (node.module or "").startswith("smartspec_dsl"):
                base, parts = PACKAGE, node.module.split(".")[1:]
            else:
                continue
            target = base.joinpath(*parts)
            for alias in node.names:                     # `from .. import ir`: a module by name
                if (target / alias.name).with_suffix(".py").is_file() or (target / alias.name).is_dir():
                    target_of = target / alias.name
                else:
                    target_of = target
                module = target_of.with_suffix(".py") if target_of.with_suffix(".py").is_file() \
                    else target_of / "__init__.py"
                found.add(module.relative_to(PACKAGE).as_posix())
    return found


def _jitted_modules() -> dict[str, ast.Module]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if _jitted(tree):
            out[path.relative_to(PACKAGE).as_posix()] = tree
    return out


def test_every_module_with_jitted_code_and_what_it_imports_is_in_the_key():
    modules = _jitted_modules()
    assert "backend/kernel_solve.py" in modules and "experiments/stats.py" in modules   # the scan works
    missing = {}
    for rel, tree in modules.items():
        need = ({rel} | _imported(PACKAGE / rel, tree)) - NOT_COMPILED
        lacking = sorted(need - set(tier0.SOURCES))
        if lacking:
            missing[rel] = lacking
    assert not missing, ("modules whose text jitted machine code holds but tier0.SOURCES does not name "
                         f"(a cached helper would keep their old constants): {missing}")


def test_the_scan_sees_a_constant_imported_from_another_file():
    """The check above can fail: kernel_solve's import of solve_layout is seen."""
    rel = "backend/kernel_solve.py"
    assert "backend/solve_layout.py" in _imported(PACKAGE / rel, _jitted_modules()[rel])
    tree = ast.parse("from .. import ir\nfrom ..ir.constants import NA_VALUE\n")
    assert _imported(PACKAGE / "backend" / "kernel_x.py", tree) == {"ir/__init__.py", "ir/constants.py"}


@pytest.mark.parametrize("rel", [s for s in tier0.SOURCES if s != "backend/interpreter.py"])
def test_cached_helpers_are_keyed_on_the_version(rel):
    """Each cached function of the package is located by helper_cache (its index checked
    against tier0.version()), so the module imported helper_cache before defining it."""
    module = importlib.import_module("smartspec_dsl." + rel[:-3].replace("/", "."))
    cached = [f for f in vars(module).values() if isinstance(f, Dispatcher) and f._cache.__class__.__name__ !=
              "NullCache" and f.py_func.__module__ == module.__name__]
    for f in cached:
        locator = f._cache._impl.locator
        assert isinstance(locator, helper_cache.HelperStamp), f"{rel}: {f.py_func.__name__}"
        assert locator.get_source_stamp() == tier0.version()


def test_editing_a_file_of_constants_changes_the_version(tmp_path, monkeypatch):
    """solve_layout.MAX_PASSES edited: another version, so the helpers and the interpreter
    are compiled again rather than loaded with the old number."""
    copy = tmp_path / "smartspec_dsl"
    for rel in tier0.SOURCES:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(PACKAGE / rel, copy / rel)
    monkeypatch.setattr(tier0, "_PACKAGE", copy)
    before = tier0.version.__wrapped__()
    assert before == tier0.version()
    layout = copy / "backend" / "solve_layout.py"
    text = layout.read_text(encoding="utf-8")
    assert "MAX_PASSES = " in text
    layout.write_text(text.replace("MAX_PASSES = ", "MAX_PASSES = 1 + "), encoding="utf-8")
    assert tier0.version.__wrapped__() != before
    assert tier0.stamped(copy / "backend" / "solve_layout.py")
    assert not tier0.stamped(copy / "backend" / "codegen.py")
