"""The settings block at the end of a Vensim .mdl file: after the sketch, from the line
`:L<%^E!@` (Vensim writes a DEL after `:L`), one setting a line as `code:values`. The one
read here is the integration method, code 15, whose fourth value Vensim writes as 0 or 2
for Euler, 1 or 5 for Runge-Kutta 4 and 3 or 4 for Runge-Kutta 2 (the codes as the public
readers of .mdl files map them: Simlin's settings parser, which follows xmutil, Vensim's
author's converter). Vensim simulates a model with the method its file says; running it
with another gives other numbers in silence, so the method is read (RK2, which smartspec
does not run, is refused)."""
from __future__ import annotations

import re

from ..errors import UnsupportedFeature

_MARKER = re.compile(r":L\x7f?<%\^E!@")
_METHODS = {1: "rk4", 5: "rk4", 3: "rk2", 4: "rk2"}   # 0 and 2, Euler, the default: ""


def integration_method(text: str, filename: str) -> str:
    """The integration method the settings block of the .mdl `text` asks for: "" when it
    has none or asks for Euler (the default), "rk4" for Runge-Kutta 4; UnsupportedFeature, located,
    for Runge-Kutta 2."""
    m = _MARKER.search(text)
    if m is None:
        return ""
    line = text.count("\n", 0, m.start()) + 1
    for k, setting in enumerate(text[m.end():].splitlines()[1:], start=line + 1):
        code, _, values = setting.partition(":")
        if code.strip() != "15":
            continue
        fields = values.split(",")
        try:
            method = _METHODS.get(int(fields[3]), "") if len(fields) > 3 else ""
        except ValueError:
            method = ""
        if method == "rk2":
            raise UnsupportedFeature(f"{filename}:{k}: the model's settings ({setting.strip()}) ask for "
                                     "Runge-Kutta 2 integration, which smartspec does not run (Euler and "
                                     "RK4 are): Vensim's results would differ")
        return method
    return ""
