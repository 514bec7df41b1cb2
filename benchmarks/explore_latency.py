"""`smartspec explore`: from a slider's move to the redrawn graphs, in a real browser.

    .venv/bin/python benchmarks/explore_latency.py [--moves 100] [--results benchmarks/RESULTS.md]

Serves World3 (../shared/real-models/WRLD3-03/wrld3-03.mdl) with the explorer on
127.0.0.1, opens the page in headless Chromium (Debian's `chromium`, driven by
Playwright), and moves one slider a step at a time with the keyboard, as a person
would, waiting for each redraw before the next move. The page measures each move from
its input event to the animation frame after the graphs were redrawn (its
`smartspec.latencies`), and the parts: the request's round trip, the model run on the
server, the redraw. The target is under 100 ms. Writes its section of RESULTS.md
between the markers `<!-- explore latency -->` and `<!-- /explore latency -->`.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
WORLD3 = ROOT.parent / "shared" / "real-models" / "WRLD3-03" / "wrld3-03.mdl"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SLIDER = "initial nonrenewable resources"
MARK, END = "<!-- explore latency -->", "<!-- /explore latency -->"


def measure(moves: int) -> dict:
    from playwright.sync_api import sync_playwright

    from smartspec_dsl import load
    from smartspec_dsl.explore.api import Explorer
    from smartspec_dsl.explore.server import Server

    model = load(WORLD3)
    server = Server(Explorer(model), 0).start()
    chromium = os.environ.get("SMARTSPEC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(server.url)
            page.wait_for_function("window.smartspec && smartspec.ready && !smartspec.busy()", timeout=60_000)
            series = page.evaluate("smartspec.charts.reduce((n, c) => n + c.u.series.length - 1, 0)")
            slider = page.locator(f'input[type=range][data-name="{SLIDER}"]')
            slider.focus()
            for i in range(moves + 5):     # the first 5 warm up (not counted)
                page.keyboard.press("ArrowRight" if (i // 10) % 2 == 0 else "ArrowLeft")
                page.wait_for_function(f"smartspec.latencies.length > {i}", timeout=10_000)
            lat = page.evaluate("smartspec.latencies")[5:]
            parts = page.evaluate("smartspec.timings")[5:]
            version = browser.version
            browser.close()
    finally:
        server.stop()
    return {"latencies": lat, "parts": parts, "series": series, "charts": len(model.output_names),
            "chromium": version}


def _stats(xs) -> str:
    xs = np.asarray(xs, dtype=float)
    return f"{np.median(xs):.1f} | {np.percentile(xs, 95):.1f} | {xs.max():.1f}"


def section(res: dict, args, secs: float) -> str:
    lat = np.asarray(res["latencies"])
    parts = res["parts"]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        head = "?"
    load = os.getloadavg()[0]
    ok = np.median(lat) < 100
    rows = [f"| slider input event to redrawn graphs (frame) | {_stats(lat)} |"]
    for key, what in (("wait", "input event to request sent"), ("request", "request round trip (fetch, values packed as float64)"),
                      ("server", "of which the model run on the server"), ("draw", "redraw of the graphs (uPlot)"),
                      ("frame", "redraw to the next animation frame")):
        rows.append(f"| {what} | {_stats([p[key] for p in parts])} |")
    return f"""{MARK}
## Explorer: slider to redrawn graph (World3)

Produced by `.venv/bin/python benchmarks/explore_latency.py --moves {args.moves}` on \
{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at git {head} in {secs:.0f} s \
(Python {platform.python_version()}, {os.cpu_count()} CPUs shared with other work, 1-min load {load:.2f}; \
headless Chromium {res['chromium']}).

World3 served by `smartspec explore`; {args.moves} moves of the slider '{SLIDER}', one keyboard step each,
each waiting for its redraw (after 5 moves not counted); the page's 7 default graphs draw {res['series']} series (the 15 stocks, each
with its base run) of 401 saved times. Milliseconds:

| | median | p95 | max |
|---|---|---|---|
{chr(10).join(rows)}

Target: under 100 ms — {"✅ met" if ok else "❌ missed"} (median {np.median(lat):.1f} ms).
{END}"""


def write(path: Path, text: str) -> None:
    old = path.read_text() if path.exists() else ""
    start, end = old.find(MARK), old.find(END)
    if 0 <= start < end:
        old = old[:start] + text + old[end + len(END):]
    else:
        old = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(old)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=100)
    ap.add_argument("--results", help="write the section into this RESULTS.md")
    args = ap.parse_args()
    if not WORLD3.exists():
        print(f"not found: {WORLD3} (../shared beside the project)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    res = measure(args.moves)
    text = section(res, args, time.perf_counter() - started)
    print(text)
    if args.results:
        write(Path(args.results), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
