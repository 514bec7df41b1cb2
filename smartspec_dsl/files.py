"""Files in, outputs out. Every file a model reads (the model, its data) goes through
`read_regular_file` (and, when the model names it, `read_in_folder`: inside the
model's folder only). Every output is written beside its target and moved
into place only when complete: a reader never sees half a file, and a failure
leaves any previous file as it was."""
from __future__ import annotations

import csv
import io
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import ModelError, SpecError

# A file a model reads (the model itself, its data) is held in memory whole; past this
# size it is surely not a model's text or data table.
MAX_READ_BYTES = 1 << 30


def read_regular_file(path, what: str = "file", where: str | None = None) -> bytes:
    """The bytes of `path`, which must be a regular file (not a directory, device or
    FIFO: /dev/zero or a named pipe would never end) of at most MAX_READ_BYTES.
    Opened without blocking, checked on the open descriptor. Any failure (missing,
    unreadable, NUL byte or over-long name) is a ModelError "WHERE: cannot read WHAT:
    why", WHERE being `path` unless given."""
    where = where or _short(path)
    try:
        fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError) as err:
        reason = "its name holds a NUL byte" if isinstance(err, ValueError) else (err.strerror or str(err))
        raise ModelError(f"{where}: cannot read {what}: {reason}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ModelError(f"{where}: cannot read {what}: it is {kind}")
        if info.st_size > MAX_READ_BYTES:
            raise ModelError(f"{where}: cannot read {what}: it is {info.st_size:,} bytes; "
                             f"at most {MAX_READ_BYTES:,} are read")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read(MAX_READ_BYTES + 1)
    except OSError as err:
        raise ModelError(f"{where}: cannot read {what}: {err.strerror or err}") from None
    finally:
        os.close(fd)


def read_model_text(path) -> str:
    """A model file's text (UTF-8, else Latin-1); a ModelError naming the path if it
    cannot be read (see `read_regular_file`)."""
    data = read_regular_file(path, "model")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.lstrip("\ufeff")


def install_cache(here: Path, fallback: str) -> Path:
    """A folder for what is computed once per install (the interpreter's machine code, the
    parser's tables): `here`/__pycache__ beside the package's bytecode when it is writable,
    else $XDG_CACHE_HOME/`fallback` (default ~/.cache/`fallback`). Made if missing."""
    own = Path(here) / "__pycache__"
    try:
        own.mkdir(exist_ok=True)
        if os.access(own, os.W_OK):
            return own
    except OSError:
        pass
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / fallback
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _short(path) -> str:
    text = os.fspath(path).replace("\0", "\\0")
    return text if len(text) <= 200 else text[:120] + "..." + text[-60:]


def read_in_folder(folder, name: str, where: str, what: str = "external file") -> tuple:
    """(resolved path, bytes) of the file `name` a model names, relative to the model's
    `folder`. The one way a model's own data is read: the name must have no NUL byte,
    must stay inside the folder once symbolic links are followed, and must be a regular
    file (see `read_regular_file`). Errors are ModelErrors located at `where`."""
    shown = _short(name) if len(name) <= 80 else _short(name[:60]) + "..." + _short(name[-15:])
    label = f"{what} '{shown}'"
    if "\0" in name:
        raise ModelError(f"{where}: cannot read {label}: its name holds a NUL byte")
    root = os.path.realpath(folder)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root:
        raise ModelError(f"{where}: {label} is outside the model's folder ({root}); only "
                         "files in the model's folder (or below) may be read")
    try:
        os.stat(path)
    except FileNotFoundError:
        raise ModelError(f"{where}: {label} not found (looked for {_short(path)})") from None
    except OSError as err:
        raise ModelError(f"{where}: cannot read {label}: {err.strerror or err}") from None
    return path, read_regular_file(path, label, where)


def check_writable(path, what: str = "output") -> None:
    """Raise a SpecError naming `path` unless an output file can be written there: its
    folder exists and is writable, and `path` is not a folder. Checked before a
    command starts its work, so a typo does not cost a whole run."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise SpecError(f"{path}: cannot write {what}: it is a directory")
    if not parent.is_dir():
        why = "is not a directory" if parent.exists() else "does not exist"
        raise SpecError(f"{path}: cannot write {what}: the folder {parent} {why}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise SpecError(f"{path}: cannot write {what}: permission denied")


@contextmanager
def replacing(path, suffix: str = ""):
    """A temporary file's name beside `path`; the file replaces `path` only if the block
    succeeds. An OSError about the temporary file or the move is a SpecError naming
    `path` (the user's name, never the temporary one). When `path` is a symbolic link,
    the file it points to is replaced (the link stays, as a plain open() would write)."""
    shown = Path(path)
    path = Path(os.path.realpath(shown)) if shown.is_symlink() else shown
    try:
        check_writable(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=suffix)
    except OSError as exc:
        raise SpecError(f"{shown}: cannot write output: {exc.strerror or exc}") from None
    except SpecError:
        if path is shown:
            raise
        raise SpecError(f"{shown}: cannot write output: it links to {path}, which cannot be written") from None
    os.close(fd)
    try:
        yield tmp
        # mkstemp made the file 0600; the output gets the mode a plain open() would give it
        # (an existing file's own mode, else 0666 less the umask), so colleagues can read it
        os.chmod(tmp, _output_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and getattr(exc, "filename", None) in (tmp, str(path), None):
            raise SpecError(f"{shown}: cannot write output: {exc.strerror or exc}") from None
        raise


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can
    only be read by setting it, which races with threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _output_mode(path: Path) -> int:
    """The permission bits for an output replacing `path`: those of the file it replaces,
    or those of a new file (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` atomically (OSError propagates: callers know what the file is)."""
    with replacing(path) as tmp:
        Path(tmp).write_bytes(data)


def write_text(path, text: str) -> None:
    """Write a text output (UTF-8, newlines as given); an OSError is a SpecError naming the file."""
    try:
        with replacing(path, ".tmp") as tmp:
            with open(tmp, "w", newline="", encoding="utf-8") as fh:
                fh.write(text)
    except OSError as exc:
        raise SpecError(f"{path}: cannot write output: {exc.strerror or exc}") from None


def write_csv(path, header, rows) -> None:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    write_text(path, text.getvalue())


def read_toml(path) -> dict:
    """A TOML spec file as a dict; an unreadable file or bad TOML is a SpecError naming the file."""
    import tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise SpecError(f"{path}: cannot read spec: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path}: invalid TOML: {err}") from None
