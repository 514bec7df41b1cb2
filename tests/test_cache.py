"""The kernel cache (runtime/cache.py, `smartspec cache`): keyed by what the model reads,
not by the path it was loaded by nor by unrelated files beside it; listed, cleared and
pruned least recently used first; kept under its size limit; safe to lose an entry."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import smartspec_dsl
from smartspec_dsl.cli import main as cli
from smartspec_dsl.errors import SpecError
from smartspec_dsl.runtime import cache

ROOT = Path(__file__).resolve().parents[1]
CONTROL = "INITIAL TIME = 0 ~~|\nFINAL TIME = 4 ~~|\nTIME STEP = 1 ~~|\nSAVEPER = 1 ~~|\n"
DECAY = "k = 0.5 ~~|\nx = INTEG(-k * x, 8) ~~|\n" + CONTROL


def variant(i: int) -> str:
    """DECAY with one more variable: another kernel (a constant alone would share it)."""
    return DECAY + f"y{i} = x * {i + 2} ~~|\n"


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A private cache folder, also the one `smartspec cache` shows."""
    root = tmp_path / "cache"
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(root))
    monkeypatch.delenv("SMARTSPEC_CACHE_SIZE", raising=False)
    return root


def model_file(folder: Path, text: str = DECAY, name: str = "m.mdl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_the_path_as_typed_does_not_recompile(store, tmp_path, monkeypatch):
    """Absolute, relative (after cd) and through a symbolic link: one entry, loaded from the
    cache, and every message names the model by the path given this time."""
    path = model_file(tmp_path / "models")
    first = smartspec_dsl.load(path, tier="interpreter")
    assert not first.cached
    monkeypatch.chdir(path.parent)
    os.symlink(path, tmp_path / "link.mdl")
    for typed in ("m.mdl", "./m.mdl", str(tmp_path / "link.mdl"), str(path)):
        m = smartspec_dsl.load(typed, tier="interpreter")
        assert m.cached, typed
        assert str(m.schedule.model.variables["x"].pos) == f"{Path(typed)}:2:1"
        assert m.run()["x"].tolist() == [8.0, 4.0, 2.0, 1.0, 0.5]   # x(t+1) = x(t) - 0.5 x(t)
    assert [e.kind for e in cache.entries(store)].count("model") == 1


def test_an_output_written_beside_the_model_does_not_recompile(store, tmp_path, monkeypatch):
    """The run's own output (any name) and unrelated data files next to a model that reads
    none of them leave the key as it was."""
    path = model_file(tmp_path / "models")
    monkeypatch.chdir(path.parent)
    assert cli(["run", "m.mdl", "-o", "results.csv", "--quiet"]) == 0
    assert cli(["run", "m.mdl", "-o", "results.tab", "--quiet"]) == 0
    (path.parent / "unrelated.csv").write_text("Time,z\n0,1\n")
    before = {e.name for e in cache.entries(store)}
    m = smartspec_dsl.load("m.mdl")
    assert m.cached and {e.name for e in cache.entries(store)} == before
    assert m.run()["x"].tolist() == [8.0, 4.0, 2.0, 1.0, 0.5]


def test_a_data_file_the_model_reads_is_in_the_key(store, tmp_path):
    """A data variable reads the data files next to the model: a changed one recompiles,
    with its new values (linear interpolation between the points: d(t) = 1 + t/10 * 9)."""
    path = model_file(tmp_path / "models", "d :INTERPOLATE: ~~|\ny = d * 2 ~~|\n" + CONTROL)
    (path.parent / "inputs.csv").write_text("Time,d\n0,1\n10,10\n")
    first = smartspec_dsl.load(path, tier="interpreter")
    assert not first.cached
    assert np.allclose(first.run()["y"], [2 * (1 + 0.9 * t) for t in range(5)], rtol=1e-12)
    assert smartspec_dsl.load(path, tier="interpreter").cached
    (path.parent / "inputs.csv").write_text("Time,d\n0,2\n10,2\n")
    again = smartspec_dsl.load(path, tier="interpreter")
    assert not again.cached and again.run()["y"].tolist() == [4.0] * 5


def test_a_get_file_is_in_the_key_by_content(store, tmp_path):
    """The same model text and data in two folders share one entry; other data does not."""
    text = "k = GET DIRECT CONSTANTS('k.csv', ',', 'A1') ~~|\nx = INTEG(-k * x, 8) ~~|\n" + CONTROL
    a, b = model_file(tmp_path / "a", text), model_file(tmp_path / "b", text)
    (a.parent / "k.csv").write_text("0.5\n")
    (b.parent / "k.csv").write_text("0.5\n")
    assert not smartspec_dsl.load(a, tier="interpreter").cached
    m = smartspec_dsl.load(b, tier="interpreter")
    assert m.cached and m.run()["x"][1] == 4.0
    (b.parent / "k.csv").write_text("0.25\n")
    m = smartspec_dsl.load(b, tier="interpreter")
    assert not m.cached and m.run()["x"][1] == 6.0


def test_listing_clear_and_prune_least_recently_used_first(store, tmp_path, capsys):
    for i, name in enumerate(("old.mdl", "mid.mdl", "new.mdl")):
        smartspec_dsl.load(model_file(tmp_path / "models", variant(i), name),
                           tier="interpreter")
    # the entries' last uses, an hour apart; a load is a use
    stamps = {"old.mdl": 1000.0, "mid.mdl": 5000.0, "new.mdl": 9000.0}
    for e in cache.entries(store):
        os.utime(store / e.name, (stamps[e.model], stamps[e.model]))
    assert [e.model for e in cache.entries(store) if e.kind == "model"] == ["old.mdl", "mid.mdl", "new.mdl"]
    assert smartspec_dsl.load(tmp_path / "models" / "old.mdl", tier="interpreter").cached
    listing = cache.entries(store)
    assert [e.model for e in listing if e.kind == "model"] == ["mid.mdl", "new.mdl", "old.mdl"]
    assert all(e.size > 0 for e in listing)

    assert cli(["cache"]) == 0
    out = capsys.readouterr().out
    total = sum(e.size for e in listing)
    assert out.startswith(f"kernel cache: {store}\nsize: {cache_human(total)} in {len(listing)} entries")
    assert out.index("old.mdl") < out.index("new.mdl") < out.index("mid.mdl")   # most recent first

    keep = sum(e.size for e in listing if e.model != "mid.mdl")
    assert cli(["cache", "prune", "--max-size", str(keep)]) == 0
    assert {e.model for e in cache.entries(store)} == {"new.mdl", "old.mdl"}
    assert cli(["cache", "clear"]) == 0
    assert cache.entries(store) == [] and list(store.iterdir()) == []
    capsys.readouterr()


def cache_human(size):
    from smartspec_dsl.cli.cache import human
    return human(size)


def test_the_size_limit_evicts_least_recently_used_after_a_compile(store, tmp_path, monkeypatch):
    old = model_file(tmp_path / "models", variant(1), "old.mdl")
    smartspec_dsl.load(old, tier="interpreter")
    for e in cache.entries(store):
        os.utime(store / e.name, (1000.0, 1000.0))        # long unused
    monkeypatch.setenv("SMARTSPEC_CACHE_SIZE", "1")       # a byte: only what is in use stays
    new = smartspec_dsl.load(model_file(tmp_path / "models"), tier="interpreter")
    assert {e.model for e in cache.entries(store)} == {"m.mdl"}
    assert new.run()["x"][-1] == 0.5
    # an entry used within the last minute is never evicted automatically: it may be in use
    smartspec_dsl.load(old, tier="interpreter")
    smartspec_dsl.load(model_file(tmp_path / "models", variant(2), "third.mdl"),
                       tier="interpreter")
    assert {e.model for e in cache.entries(store)} == {"m.mdl", "old.mdl", "third.mdl"}


def test_an_entry_lost_or_damaged_is_compiled_again(store, tmp_path):
    path = model_file(tmp_path / "models")
    m = smartspec_dsl.load(path, tier="interpreter")
    record = next(store.glob("*/model.pkl"))
    record.write_bytes(record.read_bytes()[:100])           # a damaged record: a miss
    again = smartspec_dsl.load(path, tier="interpreter")
    assert not again.cached and again.run()["x"][-1] == 0.5
    with open(next(store.glob("*/model.pkl")), "rb") as reader:   # a reader holds it open
        cache.clear(store)
        assert len(reader.read()) > 1000                          # and still reads it whole
    # a model whose entries were removed while loaded still runs, its kernel written again
    assert m.run(tier="compiled")["x"][-1] == 0.5
    assert len(list(store.glob("k*/kernel.py"))) == 1


def test_sizes_and_their_errors(monkeypatch):
    assert cache.parse_size("500M") == 500 << 20
    assert cache.parse_size("2g") == 2 << 30
    assert cache.parse_size("1.5GiB") == 3 << 29
    assert cache.parse_size("4096") == 4096
    with pytest.raises(SpecError, match="'lots' is not a size"):
        cache.parse_size("lots")
    monkeypatch.delenv("SMARTSPEC_CACHE_SIZE", raising=False)
    assert cache.size_limit() == 1 << 30
    monkeypatch.setenv("SMARTSPEC_CACHE_SIZE", "-1M")
    with pytest.raises(SpecError, match="SMARTSPEC_CACHE_SIZE: '-1M' is not a size"):
        cache.size_limit()


def test_the_cache_command_reports_a_bad_size(store, capsys):
    assert cli(["cache", "prune", "--max-size", "ten"]) == 2
    assert capsys.readouterr().err == ("error: --max-size: 'ten' is not a size (a number of bytes, or "
                                       "with K, M, G or T: '500M', '2G')\n")


def test_a_name_equal_to_the_path_is_not_the_path(store, tmp_path, monkeypatch):
    """Only the model's path is abstracted in the record, not a name spelled like it: a
    model file named 'k' (no extension) whose constant is 'k', loaded again as ./k."""
    path = model_file(tmp_path / "models", name="k")
    monkeypatch.chdir(path.parent)
    assert not smartspec_dsl.load("k", tier="interpreter").cached
    m = smartspec_dsl.load(str(path), tier="interpreter")
    assert m.cached and "k" in m.constants and m.run(params={"k": 0.25})["x"][1] == 6.0


def test_only_the_caches_own_entries_are_listed_or_removed(store, tmp_path, monkeypatch):
    """$SMARTSPEC_CACHE_DIR set to a folder that holds other things: those are never
    listed, counted, evicted or cleared."""
    (store / "photos").mkdir(parents=True)
    (store / "photos" / "big.raw").write_bytes(b"\0" * 4096)
    (store / ("0" * 23)).mkdir()
    monkeypatch.setenv("SMARTSPEC_CACHE_SIZE", "1")
    smartspec_dsl.load(model_file(tmp_path / "models"), tier="interpreter")
    assert {e.kind for e in cache.entries(store)} == {"model", "kernel"}
    assert cli(["cache", "clear"]) == 0 and cache.entries(store) == []
    assert sorted(p.name for p in store.iterdir()) == ["0" * 23, "photos"]
    assert (store / "photos" / "big.raw").stat().st_size == 4096


def test_two_files_giving_one_data_variable_are_refused_naming_both(store, tmp_path, monkeypatch):
    """A run's own output beside a model with data variables holds them too: it is never read
    back as data in silence (the edited data file would be ignored); the ambiguity is an
    error naming both files."""
    path = model_file(tmp_path / "models", "d ~~|\ns = INTEG(d, 0) ~~|\n" + CONTROL.replace("4 ~", "10 ~"))
    monkeypatch.chdir(path.parent)
    (path.parent / "data.csv").write_text("Time,d\n0,10\n10,30\n")
    assert cli(["run", "m.mdl", "-o", "a.csv", "--quiet"]) == 0
    last = (path.parent / "a.csv").read_text().splitlines()[-1].split(",")
    assert (float(last[0]), float(last[1]), float(last[2])) == (10.0, 30.0, 190.0)  # d = 10 + 2t, s = sum
    (path.parent / "data.csv").write_text("Time,d\n0,100\n10,300\n")
    with pytest.raises(smartspec_dsl.ModelError, match=r"m.mdl:1:1: data variable 'd' is given by 2 data "
                                                       r"files: a.csv, data.csv; keep one"):
        smartspec_dsl.load("m.mdl", tier="interpreter")
    (path.parent / "a.csv").unlink()
    m = smartspec_dsl.load("m.mdl", tier="interpreter")
    assert not m.cached and m.run()["s"][-1] == 1900.0


def test_damaged_machine_code_is_compiled_again(store, tmp_path):
    """Truncated files of the compiled kernel (Numba's index and data, the module itself):
    the next process compiles again, says so in one line, and gives the numbers.

    Every process runs a copy of the package made at the start: a kernel's folder is named by
    a hash of the compiler's source (loader._compiler_fingerprint, computed once per process),
    so that a file of the checkout saved during a long test session sent the next process to
    another folder, where it compiled anew without seeing the damage."""
    import shutil
    frozen = tmp_path / "src"
    shutil.copytree(ROOT / "smartspec_dsl", frozen / "smartspec_dsl", ignore=shutil.ignore_patterns("__pycache__"))
    path = model_file(tmp_path / "models", variant(7))     # a kernel no other test compiled
    env = {**os.environ, "PYTHONPATH": str(frozen), "SMARTSPEC_CACHE_DIR": str(store)}
    run = lambda: subprocess.run([sys.executable, "-m", "smartspec_dsl", "run", str(path), "--tier", "compiled",
                                  "--quiet"], env=env, capture_output=True, text=True, timeout=600)
    first = run()
    assert first.returncode == 0 and first.stdout.splitlines()[-1].split(",")[:3] == ["4.0", "0.5", "0.5"], first.stderr
    damaged = list(store.glob("k*/__pycache__/*.nb[ic]")) + list(store.glob("k*/kernel.py"))
    assert len(damaged) >= 3
    for f in damaged:
        f.write_bytes(f.read_bytes()[:100])
    for _ in range(2):    # compiled again, then from the repaired cache
        proc = run()
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stdout.splitlines()[-1].split(",")[:3] == ["4.0", "0.5", "0.5"]
        if _ == 0:
            assert "a damaged file in the kernel cache; compiling again" in proc.stderr
    assert "damaged" not in proc.stderr
    assert len(list(store.glob("k*"))) == 1     # one kernel folder: every process used the damaged one


def test_a_kernel_folder_removed_while_it_is_imported_is_written_again(store, tmp_path, monkeypatch):
    """Another process clears the cache between the load and Numba's import of the kernel
    (Numba then finds no folder to cache in): the kernel is written again and runs."""
    import importlib.util
    from smartspec_dsl.runtime import loader
    m = smartspec_dsl.load(model_file(tmp_path / "models", variant(8)), tier="interpreter")
    real, calls = importlib.util.spec_from_file_location, []

    def racing(name, path, *args, **kw):
        if not calls:
            cache.clear(store)       # between the check of kernel.py and its import
        calls.append(path)
        return real(name, path, *args, **kw)
    monkeypatch.setattr(loader.importlib.util, "spec_from_file_location", racing)
    assert m.run(tier="compiled")["x"][-1] == 0.5 and len(calls) == 2


def test_the_cache_folder_must_be_a_folder(store, tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "c.csv"
    not_a_folder.write_text("x\n")
    monkeypatch.setenv("SMARTSPEC_CACHE_DIR", str(not_a_folder))
    message = (f"{not_a_folder}: the kernel cache's folder ($SMARTSPEC_CACHE_DIR) is a file, not a folder: "
               "name a folder (it is made if missing)")
    with pytest.raises(SpecError) as err:
        smartspec_dsl.load(model_file(tmp_path / "models"))
    assert str(err.value) == message
    for args in (["cache"], ["cache", "clear"]):
        assert cli(args) == 2 and capsys.readouterr().err == f"error: {message}\n"
    assert not_a_folder.read_text() == "x\n"


def test_max_size_belongs_to_prune(store, tmp_path, capsys):
    smartspec_dsl.load(model_file(tmp_path / "models"), tier="interpreter")
    assert cli(["cache", "clear", "--max-size", "5"]) == 2
    assert capsys.readouterr().err == ("error: --max-size is the size `smartspec cache prune` prunes to; "
                                       "`clear` takes none\n")
    assert len(cache.entries(store)) == 2


def test_a_model_linked_elsewhere_reads_the_data_beside_it(store, tmp_path):
    """A model loaded through a symbolic link in another folder names its data files
    relative to its own folder (a GET call's file, and the data files of data variables)."""
    text = ("k = GET DIRECT CONSTANTS('k.csv', ',', 'A1') ~~|\nd ~~|\nx = INTEG(-k * x + d, 8) ~~|\n" + CONTROL)
    path = model_file(tmp_path / "models", text)
    (path.parent / "k.csv").write_text("0.5\n")
    (path.parent / "d.csv").write_text("Time,d\n0,1\n4,1\n")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(path, tmp_path / "elsewhere" / "linked.mdl")
    m = smartspec_dsl.load(tmp_path / "elsewhere" / "linked.mdl", tier="interpreter")
    assert m.run()["x"].tolist() == [8.0, 5.0, 3.5, 2.75, 2.375]    # x + (-0.5 x + 1)


def test_the_run_message_says_what_the_load_was_spent_on(store, tmp_path, monkeypatch, capsys):
    """A model from the cache whose kernel the load compiled is not said to come "from the
    cache" alone: the seconds were the kernel's compile."""
    monkeypatch.setenv("SMARTSPEC_BACKGROUND_COMPILE", "0")
    path = model_file(tmp_path / "models", variant(31))
    assert not smartspec_dsl.load(path, tier="interpreter").cached     # the model compiled and cached, no kernel
    out = tmp_path / "out.csv"
    for said in ("s, the model from the cache, its kernel compiled, run on the compiled",
                 "s, from the cache, run on the compiled"):
        assert cli(["run", str(path), "-o", str(out), "--tier", "compiled"]) == 0
        assert said in capsys.readouterr().err
        assert np.loadtxt(out, delimiter=",", skiprows=1, usecols=1).tolist()[-1] == 0.5   # x(4) = 8 / 2^4


def test_a_compiled_load_leaves_the_tape_to_the_first_load_that_needs_it(store, tmp_path, monkeypatch):
    """A load on the compiled tier does not build the interpreter's tape; a later load of the
    same model on the interpreter builds it from the cached record, keeps it there (the
    model's path still abstracted: a load by another path names it so), and both tiers give
    x(t+1) = x(t) - 0.5 x(t)."""
    path = model_file(tmp_path)
    compiled = smartspec_dsl.load(path, tier="compiled")
    entry = store / compiled._origin.key / cache.RECORD
    record = cache.read_record(entry, str(path))
    assert record.tape is None and record.unsupported is None
    assert compiled.run()["x"].tolist() == [8.0, 4.0, 2.0, 1.0, 0.5]
    interpreted = smartspec_dsl.load(path, tier="interpreter")
    assert interpreted.cached
    assert interpreted.run(tier="interpreter")["x"].tolist() == [8.0, 4.0, 2.0, 1.0, 0.5]
    record = cache.read_record(entry, str(path))
    assert record.tape is not None and record.unsupported is None
    monkeypatch.chdir(path.parent)
    again = smartspec_dsl.load("m.mdl", tier="interpreter")
    assert again.cached and str(again.schedule.model.variables["x"].pos) == "m.mdl:2:1"
