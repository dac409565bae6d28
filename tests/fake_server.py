"""What every local fake of a provider's HTTP API shares: a quiet threaded server on a free port,
started and stopped by ``with``. Each fake brings its handler and its state."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """Routes GET and POST to ``_dispatch``; ``self.server.fake`` is the fake's state."""

    server: "LocalServer"

    def log_message(self, format, *args):
        """Quiet: pytest shows what matters."""

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def _dispatch(self):
        raise NotImplementedError


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: "LocalFake"


class LocalFake:
    """``with SomeFake() as fake:`` serves on ``fake.url`` until the block ends."""

    handler: type[QuietHandler]

    def __init__(self):
        self._server = LocalServer(("127.0.0.1", 0), self.handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        # A short poll keeps shutdown (once per test) from costing half a second.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
