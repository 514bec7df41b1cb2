"""A seeded mutator of Vensim model text and a harness that runs each mutant
through the compiler's pure passes (parse, lowering, ordering, code generation,
and Python's own `compile` of the generated kernel source; no Numba).

Used by `tests/test_fuzz.py` (a few hundred cases in `make test`) and
`benchmarks/fuzz_campaign.py` (100,000 and more, in parallel). A mutant's
outcome is one of:

    accepted    the compiler produced a kernel
    located     a ModelError whose message starts with FILE:LINE:COLUMN
    unlocated   a ModelError without that location
    crash       any other exception (a traceback for the user)
    hang        no answer within the per-case time limit

Mutant `i` of a campaign is a pure function of (seed, i, the model list), so
any finding is reproduced with `python benchmarks/fuzz_campaign.py --show I`.
"""
from __future__ import annotations

import random
import re
import signal
import traceback
from pathlib import Path

OUTCOMES = ("accepted", "located", "unlocated", "crash", "hang")

# Tokens of the expression language and its keywords, for insertions.
_TOKENS = ["(", ")", "[", "]", ",", ";", "|", "~", "=", ":=", "==", "+", "-", "*", "/", "^",
           "<", ">", "<>", ":AND:", ":OR:", ":NOT:", ":NA:", ":EXCEPT:", ":MACRO:",
           ":END OF MACRO:", ":INTERPOLATE:", "INTEG(", "SMOOTH(", "DELAY FIXED(",
           "IF THEN ELSE(", "MIN(", "SUM(", "VECTOR SELECT(", "GET XLS DATA(", "Time",
           "TIME STEP", "FINAL TIME", "SAVEPER", "INITIAL TIME", "\\\\\\---///", "{", "}",
           '"', "'", "!", "->", "<->", "(1-9)", "0", "1e308", "-1e308", "1e-300", "1e999",
           "9" * 400, "0.0", "-0", "TABBED ARRAY(", "WITH LOOKUP(", "LOOKUP INVERT(",
           "A FUNCTION OF(", ":IMPLIES:", ":THE CONDITION:", "***\n****"]
_ODD = ["\x00", "\xff", "\ufeff", "\u2028", "\r", "\t", "\x1b", "\ud7ff", "\U0001f600",
        "\\", "\\\n", "é", "\x0c", "\x85"]
_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|:[A-Z ]+:|\d+\.?\d*(?:[eE][+-]?\d+)?|\w+|\S')


def _lines(text):
    return text.split("\n")


def _deep(rng: random.Random) -> str:
    n = rng.choice([50, 200, 400, 1000, 3000])
    kind = rng.randrange(6)
    if kind == 0:
        return "-" * n + "1"
    if kind == 1:
        return "(" * n + "1" + ")" * n
    if kind == 2:
        return "ABS(" * n + "1" + ")" * n
    if kind == 3:
        return ":NOT: " * n + "1"
    if kind == 4:
        return " + ".join(["1"] * n)
    return "1" + "^1" * n


def mutate(text: str, rng: random.Random) -> str:
    """One to three random edits of `text`: lines or tokens deleted, duplicated or
    swapped, brackets unbalanced, odd bytes, huge numbers, deep nesting."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        lines = _lines(text)
        op = rng.randrange(12)
        i = rng.randrange(len(lines))
        j = rng.randrange(len(lines))
        if op == 0:                                   # delete lines
            del lines[i:i + rng.choice((1, 1, 2, 5))]
        elif op == 1:                                 # duplicate a line
            lines.insert(j, lines[i])
        elif op == 2:                                 # swap two lines
            lines[i], lines[j] = lines[j], lines[i]
        elif op in (3, 4, 5):                         # token edits on one line
            toks = [m for m in _TOKEN_RE.finditer(lines[i])]
            if not toks:
                continue
            m = rng.choice(toks)
            line = lines[i]
            if op == 3:                               # delete a token
                line = line[:m.start()] + line[m.end():]
            elif op == 4:                             # duplicate a token
                line = line[:m.end()] + " " + m.group() + line[m.end():]
            else:                                     # swap with another token
                n = rng.choice(toks)
                a, b = sorted((m, n), key=lambda x: x.start())
                if a.end() <= b.start():
                    line = (line[:a.start()] + b.group() + line[a.end():b.start()] + a.group()
                            + line[b.end():])
            lines[i] = line
        elif op == 6:                                 # insert a language token
            line = lines[i]
            k = rng.randrange(len(line) + 1)
            lines[i] = line[:k] + " " + rng.choice(_TOKENS) + " " + line[k:]
        elif op == 7:                                 # unbalance brackets
            line = lines[i]
            k = rng.randrange(len(line) + 1)
            lines[i] = line[:k] + rng.choice("()[]{}") * rng.choice((1, 1, 2, 50)) + line[k:]
        elif op == 8:                                 # odd bytes
            line = lines[i]
            k = rng.randrange(len(line) + 1)
            lines[i] = line[:k] + rng.choice(_ODD) * rng.choice((1, 3)) + line[k:]
        elif op == 9:                                 # numbers made huge, tiny or odd
            line = lines[i]
            nums = list(re.finditer(r"\d+\.?\d*(?:[eE][+-]?\d+)?", line))
            if nums:
                m = rng.choice(nums)
                new = rng.choice(["1e308", "1e999", "1e-300", "0", "-0", "9" * 400,
                                  "1e-320", "123456789012345678901234567890", "0.0000000001"])
                lines[i] = line[:m.start()] + new + line[m.end():]
        elif op == 10:                                # deep nesting in an equation
            line = lines[i]
            k = line.find("=")
            if k >= 0:
                lines[i] = line[:k + 1] + " " + _deep(rng) + " + " + line[k + 1:]
        else:                                         # truncate the file
            cut = rng.randrange(len(text) + 1)
            text = text[:cut]
            continue
        text = "\n".join(lines)
    return text


def located(message: str, filename: str) -> bool:
    """Does the message start with FILENAME:LINE:COLUMN (the form every user error takes)?"""
    return re.match(re.escape(filename) + r":\d+:\d+", message) is not None


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def check_text(text: str, filename: str, time_limit: float = 10.0) -> tuple[str, str]:
    """(outcome, detail) of compiling `text` as if it were the file `filename`.
    The per-case limit uses SIGALRM (main thread only); a campaign also guards
    each worker process from outside."""
    from smartspec_dsl.errors import ModelError
    from smartspec_dsl.runtime import compile_model
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        _, _, kernel = compile_model(text, filename)
        compile(kernel.source, "<kernel>", "exec")
        return "accepted", ""
    except _Timeout:
        return "hang", "".join(traceback.format_exc(limit=-8))
    except ModelError as err:
        msg = str(err)
        return ("located" if located(msg, filename) else "unlocated"), msg.split("\n")[0][:300]
    except BaseException as err:   # noqa: BLE001 - the point is to catch everything
        if isinstance(err, KeyboardInterrupt):
            raise
        return "crash", "".join(traceback.format_exception(type(err), err, err.__traceback__, limit=-6))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def model_files(shared: Path) -> list[Path]:
    """Every .mdl of the reference material, in a fixed order."""
    return sorted(shared.rglob("*.mdl"))


def mutant(models: list[Path], seed: int, i: int, cache: dict | None = None) -> tuple[Path, str]:
    """The i-th mutant of a campaign: (the model it comes from, its text)."""
    rng = random.Random(f"{seed}:{i}")
    path = models[rng.randrange(len(models))]
    if cache is not None and path in cache:
        text = cache[path]
    else:
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        if cache is not None:
            cache[path] = text
    return path, mutate(text, rng)
