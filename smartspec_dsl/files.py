"""Spec files in, outputs out. Every output is written beside its target and moved
into place only when complete: a reader never sees half a file, and a failure
leaves any previous file as it was."""
from __future__ import annotations

import csv
import io
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import SpecError


@contextmanager
def replacing(path, suffix: str = ""):
    """A temporary file's name beside `path`; the file replaces `path` only if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
