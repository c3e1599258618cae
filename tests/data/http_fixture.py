"""A scriptable HTTP server on 127.0.0.1 for download and image tests (no internet needed)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the server answers for one path.

    ``cut_first``: the first N answers send the full Content-Length but only half the bytes,
    then close the connection. ``fail_first``: the first N answers are HTTP 500.
    ``ignore_range``: always answer 200 with the whole body.
    """

    body: bytes
    content_type: str = "application/octet-stream"
    cut_first: int = 0
    fail_first: int = 0
    ignore_range: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)


class LocalServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                route.requests.append(dict(self.headers))
                if route.fail_first > 0:
                    route.fail_first -= 1
                    self.send_error(500, "Internal Server Error")
                    return
                body, start = route.body, 0
                range_header = self.headers.get("Range")
                if range_header and not route.ignore_range:
                    start = int(range_header.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416, "Range Not Satisfiable")
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if route.cut_first > 0:
                    route.cut_first -= 1
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        return Handler

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url + path


@contextmanager
def local_server() -> Iterator[LocalServer]:
    server = LocalServer()
    thread = threading.Thread(target=server._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._server.shutdown()
        server._server.server_close()


def refused_url() -> str:
    """A URL on a local port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"
