"""`smartspec explore MODEL`: a local web app with the model's sliders and graphs."""
from __future__ import annotations

import os
import sys
import webbrowser

from ..errors import ParameterError
from ..runtime import load
from .common import compile_note

DEFAULT_PORT = 8765


def add_parser(sub) -> None:
    """The command's arguments, as a sub-command of `sub`."""
    ex = sub.add_parser("explore", help="explore a model in the browser: sliders, graphs, scenarios, "
                                        "Monte Carlo bands, documentation")
    ex.add_argument("model")
    ex.add_argument("--port", type=int, default=DEFAULT_PORT,
                    help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    ex.add_argument("--no-browser", action="store_true", help="do not open a browser; print the address")
    ex.set_defaults(func=main)


def main(args) -> int:
    """Load the model, serve the explorer until Ctrl-C (exit 0)."""
    # the web server is an optional extra, imported when this command runs
    from ..explore.api import Explorer
    from ..explore.server import Server, require_tornado
    require_tornado()   # before a long first compile
    if not 0 <= args.port <= 65535:
        raise ParameterError(f"--port must be from 0 to 65535, got {args.port}")
    model = load(args.model, log=compile_note)
    explorer = Explorer(model)
    for slider in explorer.sliders.values():
        if slider.note:
            print(f"smartspec explore: warning: '{slider.name}': {slider.note}", file=sys.stderr)
    server = Server(explorer, args.port)

    def ready(url):
        print(f"smartspec explore: {args.model} at {url} (Ctrl-C stops)", file=sys.stderr, flush=True)
        if not args.no_browser:
            webbrowser.open(url)
    try:
        server.serve_forever(ready)
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr, flush=True)
        if server.worker.busy:
            # a run in flight holds the interpreter (its thread is abandoned, but the
            # interpreter's exit still waits to take it back): leave at once
            sys.stdout.flush()
            os._exit(0)
    return 0
