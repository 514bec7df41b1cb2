"""The settings block at the end of a Vensim .mdl file: after the sketch, from the line
`:L<%^E!@` (Vensim writes a DEL after `:L`), one setting a line as `code:values`. Read
here: the file aliases, code 30 (`30:?data=data.xlsx`: the file a GET call's `'?data'`
stands for), and the integration method, code 15, whose fourth value Vensim writes as 0 or 2
for Euler, 1 or 5 for Runge-Kutta 4 and 3 or 4 for Runge-Kutta 2 (the codes as the public
readers of .mdl files map them: Simlin's settings parser, which follows xmutil, Vensim's
author's converter). Vensim simulates a model with the method its file says; running it
with another gives other numbers in silence, so the method is read (RK2, which smartspec
does not run, is refused). Both RK4 codes run as fixed-step RK4, Vensim's RK4 Fixed, with a
notice: one of them is Vensim's RK4 Auto, which also shortens its step where a stock's error
exceeds ABSOLUTE TOLERANCE or RELATIVE TOLERANCE (Vensim's help, "Special Variables"), but which
one no public reader of the format says; a run asks for RK4 Auto by name (method "rk4auto",
backend/kernel_step.py)."""
from __future__ import annotations

import re

from ..errors import UnsupportedFeature

_MARKER = re.compile(r":L\x7f?<%\^E!@")
_METHODS = {1: "rk4", 5: "rk4", 3: "rk2", 4: "rk2"}   # 0 and 2, Euler, the default: ""


def _settings(text: str):
    """(line number, code, values) of each line of the settings block."""
    m = _MARKER.search(text)
    if m is None:
        return
    line = text.count("\n", 0, m.start()) + 1
    for k, setting in enumerate(text[m.end():].splitlines()[1:], start=line + 1):
        code, _, values = setting.partition(":")
        yield k, code.strip(), values


def file_aliases(text: str) -> dict[str, str]:
    """The model's own file aliases: name (lower case, without its `?`) -> file name."""
    out = {}
    for _, code, values in _settings(text):
        name, eq, file = values.partition("=")
        if code == "30" and eq and name.strip().startswith("?") and file.strip():
            out[name.strip()[1:].strip().lower()] = file.strip()
    return out


def integration_method(text: str, filename: str) -> tuple[str, tuple[str, ...]]:
    """The integration method the settings block of the .mdl `text` asks for: "" when it
    has none or asks for Euler (the default), "rk4" for Runge-Kutta 4, with the notice a run
    gives (ir.Model.notices) that it runs RK4 Fixed; UnsupportedFeature, located, for
    Runge-Kutta 2."""
    for k, code, values in _settings(text):
        if code != "15":
            continue
        fields = values.split(",")
        try:
            method = _METHODS.get(int(fields[3]), "") if len(fields) > 3 else ""
        except ValueError:
            method = ""
        if method == "rk2":
            raise UnsupportedFeature(f"{filename}:{k}: the model's settings (15:{values.strip()}) ask for "
                                     "Runge-Kutta 2 integration, which smartspec does not run (Euler and "
                                     "RK4 are): Vensim's results would differ")
        if method == "rk4":
            return method, (f"{filename}:{k}: the model's settings (15:{values.strip()}) ask for Runge-Kutta 4: "
                            "smartspec runs RK4 Fixed (every step TIME STEP long); if they mean Vensim's RK4 "
                            "Auto, which also shortens a step where a stock's error exceeds ABSOLUTE "
                            "TOLERANCE or RELATIVE TOLERANCE, run with --method rk4auto",)
        return method, ()
    return "", ()
