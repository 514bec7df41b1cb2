"""The explorer's web server (Tornado): the page and its assets from `static/`, and
the JSON API of `api.Explorer`.

It listens on 127.0.0.1 only. A request whose Host is not this address (or
localhost) is refused, so that a web page elsewhere cannot reach the model through
a name that resolves here (DNS rebinding); the API takes only JSON bodies, which a
page of another origin cannot send without a CORS preflight, which is never allowed.
Model runs happen one at a time on one worker thread (the kernels are not meant for
concurrent calls), so that the server keeps answering while a Monte Carlo runs. The
worker is a daemon thread: Ctrl-C ends the process at once, abandoning a run in flight
(a run has no output to leave half-written).
"""
from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
from concurrent.futures import Executor, Future
from pathlib import Path

from ..errors import ModelError

STATIC = Path(__file__).resolve().parent / "static"
HOST = "127.0.0.1"
MAX_BODY = 4 * 2 ** 20    # bytes of one request's body: the page's largest (a CSV of many scenarios) is far less

try:
    import tornado.httpserver
    import tornado.netutil
    import tornado.web
except ImportError:    # the optional extra; `require_tornado` says how to install it
    tornado = None


def require_tornado() -> None:
    if tornado is None:
        raise ModelError("smartspec explore needs Tornado: pip install 'smartspec[explore]'")


class Worker(Executor):
    """One daemon thread running the submitted calls in order. Unlike ThreadPoolExecutor's
    threads, which the interpreter joins at exit, it never keeps the process alive: a
    Monte Carlo in flight does not delay Ctrl-C."""

    def __init__(self, name: str = "smartspec-run"):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self.busy = False       # a call is running
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self):
        while (job := self._jobs.get()) is not None:
            future, fn, args, kwargs = job
            if not future.set_running_or_notify_cancel():
                continue
            self.busy = True
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as err:   # noqa: B036 -- handed to the caller's future
                future.set_exception(err)
            finally:
                self.busy = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self._closed:
            raise RuntimeError("the worker is shut down")
        future: Future = Future()
        self._jobs.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            pending = []
            while True:
                try:
                    pending.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            for job in pending:
                if job is not None:
                    job[0].cancel()
        self._jobs.put(None)
        if wait:
            self._thread.join()


def _handlers(explorer, worker: Executor):
    @tornado.web.stream_request_body
    class Bounded(tornado.web.RequestHandler):
        """Reads the body itself (`self.body`), keeping at most MAX_BODY bytes: a longer one
        is read to its end and dropped (`self.too_large`), so that the client, still
        sending, gets an answer it can read rather than a closed connection. (Tornado's own
        limit answers a bare 400.)"""
        def prepare(self):
            self._chunks, self._size = [], 0

        @property
        def too_large(self) -> bool:
            return self._size > MAX_BODY

        def data_received(self, chunk):
            self._size += len(chunk)
            if self.too_large:
                self._chunks = []
            else:
                self._chunks.append(chunk)

        @property
        def body(self) -> bytes:
            return b"".join(self._chunks)

    class Base(Bounded):
        def prepare(self):
            super().prepare()
            host = (self.request.host or "").rsplit(":", 1)[0].strip("[]").lower()
            if host not in (HOST, "localhost"):
                self.send_error(403, reason="Forbidden host")

        def write_error(self, status_code, **kwargs):
            # one line for the page, never a traceback (Tornado logs unexpected ones)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": self._reason or "error"}))

        def set_default_headers(self):
            self.set_header("Cache-Control", "no-store")
            self.set_header("X-Content-Type-Options", "nosniff")

    class Page(Base):
        def get(self):
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write((STATIC / "index.html").read_bytes())

    class Model(Base):
        def get(self):
            self.write(explorer.info)

    class Doc(Base):
        """GET /api/doc and /api/sketch: lists, computed once on the worker thread."""
        async def get(self, what):
            fn = explorer.documentation if what == "doc" else explorer.sketch
            out = await asyncio.get_running_loop().run_in_executor(worker, fn)
            self.set_header("Content-Type", "application/json")
            self.write(json.dumps(out))

    class Call(Base):
        """POST /api/<request>: the body is JSON; a ModelError is 400 with its message."""
        requests = {"run": explorer.run, "changes": explorer.changes, "csv": explorer.csv,
                    "montecarlo": explorer.monte_carlo}

        async def post(self, what):
            fn = self.requests.get(what)
            if fn is None:
                raise tornado.web.HTTPError(404, reason=f"no request '{what}'")
            if self.too_large:
                raise tornado.web.HTTPError(413, reason=f"the request's body is larger than "
                                                        f"{MAX_BODY // 2 ** 20} MiB")
            if not self.request.headers.get("Content-Type", "").startswith("application/json"):
                raise tornado.web.HTTPError(415, reason="the body must be JSON (Content-Type: application/json)")
            try:
                body = json.loads(self.body or b"{}")
            except ValueError as err:
                raise tornado.web.HTTPError(400, reason=f"the body is not JSON: {err}") from None
            if not isinstance(body, dict):
                raise tornado.web.HTTPError(400, reason="the body must be a JSON object")
            try:
                out = await asyncio.get_running_loop().run_in_executor(worker, fn, body)
            except asyncio.CancelledError:     # the server stops (Ctrl-C) during the request
                self.set_status(503)
                self.finish({"error": "the server was stopped during this request"})
                return
            except ModelError as err:
                self.set_status(400)
                self.write({"error": str(err)})
                return
            except Exception as err:   # noqa: BLE001 -- a fault of ours: logged here, one line in the page
                logging.getLogger("smartspec.explore").exception("request %s failed", what)
                self.set_status(500)
                self.write({"error": f"internal error ({type(err).__name__}: {err}); the server's log "
                                     "has the details"})
                return
            if isinstance(out, str):
                self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.write(out)

    class Static(Bounded, tornado.web.StaticFileHandler):
        def set_extra_headers(self, path):
            self.set_header("Cache-Control", "no-cache")

    return [(r"/", Page), (r"/api/model", Model), (r"/api/(doc|sketch)", Doc), (r"/api/(\w+)", Call),
            (r"/static/(.*)", Static, {"path": str(STATIC)})]


class Server:
    """The explorer on 127.0.0.1:`port` (0: a free port), served by a Tornado IOLoop on
    the calling thread (`serve_forever`) or on a thread of its own (`start`, for tests
    and benchmarks; `stop` ends it)."""

    def __init__(self, explorer, port: int = 0):
        require_tornado()
        self.explorer = explorer
        self.worker = Worker()
        self.requested_port = port
        self.port = None
        self._loop = None
        self._thread = None
        self._ready = threading.Event()
        self._error = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def _listen(self):
        # no gzip: on the loopback it costs more time than the bytes it saves
        app = tornado.web.Application(_handlers(self.explorer, self.worker))
        # every handler reads its body itself and keeps at most MAX_BODY of it (`Bounded`)
        self._http = tornado.httpserver.HTTPServer(app, max_body_size=2 ** 62)
        try:
            sockets = tornado.netutil.bind_sockets(self.requested_port, HOST)
        except OSError as err:
            raise ModelError(f"cannot listen on {HOST}:{self.requested_port}: {err.strerror or err}"
                             + (" (another program uses it: try --port)" if err.errno == 98 else "")) from None
        self._http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]

    async def _main(self, stop: asyncio.Event):
        self._listen()
        self._loop = asyncio.get_running_loop()
        self._stop = stop
        self._ready.set()
        await stop.wait()
        self._http.stop()

    def serve_forever(self, on_ready=None) -> None:
        """Serve until Ctrl-C; `on_ready(url)` is called once the socket listens."""
        async def main():
            stop = asyncio.Event()
            task = asyncio.create_task(self._main(stop))
            while not self._ready.is_set() and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()
            if on_ready is not None:
                on_ready(self.url)
            await task
        try:
            asyncio.run(main())
        finally:
            self.worker.shutdown(wait=False, cancel_futures=True)

    def start(self) -> "Server":
        """Serve on a background thread; returns once the socket listens."""
        def run():
            try:
                asyncio.run(self._main(asyncio.Event()))
            except BaseException as err:   # noqa: B036 -- handed to the starting thread
                self._error = err
                self._ready.set()
        logging.getLogger("tornado.access").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=run, name="smartspec-explore", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        self.worker.shutdown(wait=True)
