"""`smartspec explore MODEL`: the model in the browser, rerun as a slider moves.

`catalog` reads what the page shows of a model (sliders, graphs, documentation),
`api` answers the page's requests (runs, scenarios as changes files and CSV, Monte
Carlo bands through the sweep engine), `server` serves both on 127.0.0.1 (Tornado),
and `static/` is the page itself with its one vendored chart library (uPlot).
"""
