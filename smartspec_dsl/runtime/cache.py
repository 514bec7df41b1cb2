"""The kernel cache on disk: where it is, what it holds, its size limit.

One folder per entry under `cache_root()`: a model's compiled record (`<key>/model.pkl`:
the parsed and lowered model, its schedule, its kernel and the interpreter's tape,
keyed by what the model reads, see loader.py) or a compiled kernel (`k<hash>/`: the
kernel module, Numba's machine code for it and its single run compiled ahead of time,
backend/kernel_aot.py; shared by every model whose kernel source is the same). Each entry holds `about.json` (which model, what kind) and its
folder's modification time is its last use: a load touches the entries it uses.

The cache is kept under a size limit (`SMARTSPEC_CACHE_SIZE`, default 1 GiB) by
removing the least recently used entries after each compile (only folders named as
entries are: nothing else in the folder is ever listed or removed). Other processes may be
reading an entry while it is removed: an entry is first renamed out of the way (one
atomic step, so no reader ever sees half an entry under its name) and then deleted;
files a reader has open stay readable, and a reader that finds an entry gone compiles
it again (loader.py). Entries used in the last minute are never removed automatically.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError, SpecError
from ..files import write_bytes

DEFAULT_LIMIT = 1 << 30
GRACE_SECONDS = 60.0    # an entry used this recently may be in use: not evicted automatically
RECORD = "model.pkl"
ABOUT = "about.json"
_TRASH = ".removing-"
# the names loader.py gives entries: a record's key, "k" and a kernel's; nothing else in
# the folder (should $SMARTSPEC_CACHE_DIR name a folder of other things) is ever touched
_ENTRY = re.compile(r"k?[0-9a-f]{24}")
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def cache_root() -> Path:
    """$SMARTSPEC_CACHE_DIR, else $XDG_CACHE_HOME/smartspec, else ~/.cache/smartspec."""
    env = os.environ.get("SMARTSPEC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smartspec"


def checked_root(root: Path | None = None) -> Path:
    """The cache's folder (`cache_root()` unless given); a SpecError naming the setting when
    it exists and is not a folder (a typo naming a file)."""
    root = Path(root) if root is not None else cache_root()
    if root.exists() and not root.is_dir():
        setting = " ($SMARTSPEC_CACHE_DIR)" if os.environ.get("SMARTSPEC_CACHE_DIR") else ""
        raise SpecError(f"{root}: the kernel cache's folder{setting} is a file, not a folder: "
                        "name a folder (it is made if missing)")
    return root


def parse_size(text: str, where: str = "size") -> int:
    """Bytes from '500M', '2G', '1.5GiB', '123456' (K, M, G, T: powers of 1024)."""
    raw = str(text).strip().upper().removesuffix("IB").removesuffix("B")
    unit = raw[-1:] if raw[-1:] in _UNITS else ""
    try:
        value = float(raw[:len(raw) - len(unit)])
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise SpecError(f"{where}: '{text}' is not a size (a number of bytes, or with K, M, G or T: '500M', '2G')")
    return int(value * _UNITS[unit])


def size_limit() -> int:
    """The cache's size limit in bytes: $SMARTSPEC_CACHE_SIZE, else DEFAULT_LIMIT."""
    env = os.environ.get("SMARTSPEC_CACHE_SIZE")
    return DEFAULT_LIMIT if not env else parse_size(env, "SMARTSPEC_CACHE_SIZE")


# -- entries ------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    name: str          # the folder's name under the cache root
    kind: str          # "model" (a compiled record), "kernel" (machine code), "unknown"
    model: str         # the model's file name ("" when unknown)
    size: int          # bytes
    last_use: float    # seconds since the epoch


def describe(folder: Path, kind: str, model: str) -> None:
    """Mark a new entry with what it is (for `smartspec cache`)."""
    try:
        if not (folder / ABOUT).is_file():
            write_bytes(folder / ABOUT, json.dumps({"kind": kind, "model": model}).encode())
    except (OSError, ModelError):
        pass   # only the listing's label


def touch(folder: Path) -> None:
    """Record a use of the entry `folder` (its last use orders eviction)."""
    try:
        os.utime(folder)
    except OSError:
        pass


def _size(folder: Path) -> int:
    total = 0
    for base, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.lstat(os.path.join(base, f)).st_size
            except OSError:
                pass
    return total


def entries(root: Path | None = None) -> list[Entry]:
    """The cache's entries, least recently used first."""
    root = Path(root) if root is not None else cache_root()
    out = []
    try:
        listing = list(os.scandir(root))
    except OSError:
        return []
    for item in listing:
        if not _ENTRY.fullmatch(item.name) or not item.is_dir(follow_symlinks=False):
            continue
        try:
            last = item.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue    # removed meanwhile
        try:
            about = json.loads((Path(item.path) / ABOUT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            about = {}
        if not isinstance(about, dict):
            about = {}
        kind = about.get("kind") if about.get("kind") in ("model", "kernel") else "unknown"
        out.append(Entry(item.name, kind, str(about.get("model", "")), _size(Path(item.path)), last))
    return sorted(out, key=lambda e: (e.last_use, e.name))


def remove(root: Path, name: str) -> bool:
    """Remove one entry safely while other processes may read it: renamed away first (an
    atomic step), then deleted. False when it was already gone."""
    root = Path(root)
    trash = root / f"{_TRASH}{name}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(root / name, trash)
    except FileNotFoundError:
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def _sweep_trash(root: Path) -> None:
    """Finish removals a killed process left half done."""
    try:
        for item in os.scandir(root):
            if item.name.startswith(_TRASH) and _ENTRY.fullmatch(item.name[len(_TRASH):-9]):
                shutil.rmtree(item.path, ignore_errors=True)
    except OSError:
        pass


def prune(limit: int, root: Path | None = None, keep=(), grace: float = 0.0) -> list[Entry]:
    """Remove least recently used entries until the cache holds at most `limit` bytes,
    never those named in `keep` nor those used in the last `grace` seconds. Returns the
    entries removed."""
    root = Path(root) if root is not None else cache_root()
    _sweep_trash(root)
    listing = entries(root)
    total = sum(e.size for e in listing)
    now = time.time()
    removed = []
    for e in listing:
        if total <= limit:
            break
        if e.name in keep or now - e.last_use < grace:
            continue
        if remove(root, e.name):
            removed.append(e)
        total -= e.size
    return removed


def clear(root: Path | None = None) -> list[Entry]:
    """Remove every entry (a process running a model from the cache compiles what it needs again)."""
    root = Path(root) if root is not None else cache_root()
    _sweep_trash(root)
    listing = entries(root)
    return [e for e in listing if remove(root, e.name)]


def enforce_limit(root: Path, keep=()) -> None:
    """After a compile: the cache back under its limit (see the module's docstring)."""
    try:
        prune(size_limit(), root, keep, GRACE_SECONDS)
    except (OSError, ModelError):
        pass   # a cache over its limit, or a limit written wrong, never fails a model's run


# -- records --------------------------------------------------------------------

class _RecordPickler(pickle.Pickler):
    """Pickles a compiled record without the model's path: the path the model was compiled
    by (the very string object, which every position shares, so that a name that happens
    to equal it is kept; and the `path:line:column: ...` of a notice) is stored as a
    reference, so the record serves the same model however its path is typed."""

    def __init__(self, file, path: str):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.path = path
        self.prefix = path + ":"

    def persistent_id(self, obj):
        if obj is self.path:
            return ""
        if type(obj) is str and obj.startswith(self.prefix):
            return obj[len(self.path):]
        return None


class _RecordUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str):
        super().__init__(file)
        self.path = path
        self.made: dict[str, str] = {}

    def persistent_load(self, pid):
        text = self.made.get(pid)
        if text is None:
            text = self.made[pid] = self.path + pid
        return text


def write_file(path: Path, data: bytes) -> None:
    """Write a file of an entry atomically, its folder made first (and again, should another
    process's eviction remove it meanwhile)."""
    for attempt in (1, 2):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, data)
            return
        except (OSError, ModelError):
            if attempt == 2:
                raise


def write_record(path: Path, record, model_path: str) -> None:
    """Write a compiled record (any picklable object) atomically, its model path abstracted:
    `model_path` must be the string object the record was compiled with."""
    buf = io.BytesIO()
    _RecordPickler(buf, model_path).dump(record)
    write_file(path, buf.getvalue())


def read_record(path: Path, model_path: str):
    """The record at `path` with `model_path` in place of the path it was written with,
    or None when there is none (never written, removed, or unreadable)."""
    try:
        with open(path, "rb") as f:
            return _RecordUnpickler(f, model_path).load()
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
        return None
