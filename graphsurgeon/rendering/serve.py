"""``explore --serve``: an explorer site served on the loopback interface, views laid out when first opened.

A site written with ``--depth N`` holds N levels of views; the server lays
out any other view the first time the page asks for it (``views/ID.js``:
an id says how to rebuild its view, see :mod:`graphsurgeon.rendering.explore`)
and writes it into the site, so a later static copy has it too. The search
box's ``_locate`` request opens boxes down to the view drawing an op.

It binds 127.0.0.1 only and answers only requests addressed to it by that
name (or ``localhost``), so neither another machine nor a web page that
re-points a domain name at 127.0.0.1 can read the model through it.
"""
from __future__ import annotations

import json
import re
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import GraphSurgeonError
from . import site
from .budget import lay_out
from .explore import Explorer

_PATH = re.compile(r"^[0-9]+-[0-9]+(?:\.[0-9]+)*$")
_VIEW = re.compile(r"^/views/([^/]+)\.js$")


class Server:
    """The site at ``directory`` served on ``http://127.0.0.1:PORT/`` (``port`` 0: any free one).

        with Server(g, "site") as server:
            print(server.url)
            server.serve_forever()
    """

    def __init__(self, g, directory, *, training: bool | None = None, port: int = 0,
                 weights_as_nodes: bool = False):
        self.directory = Path(directory)
        self.explorer = Explorer(g, training=training, weights_as_nodes=weights_as_nodes)
        self.explorer.prepare()
        self.writer = site.SiteWriter(self.directory)
        handler = partial(_Handler, self, directory=str(self.directory))
        self.httpd = HTTPServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.25)

    def close(self) -> None:
        self.httpd.server_close()

    def make_view(self, path: str) -> str:
        """Lay out the view at ``path`` into the site unless it is there already; returns its id."""
        task = self.explorer.task(path)
        if not (self.directory / "views" / f"{task.id}.js").exists():
            built = self.explorer.build(task)
            (job,) = lay_out([built.job], self.explorer.budget)
            if job.error is not None:
                raise job.error
            if job.plan.notes:
                built.record["notes"] = built.record["notes"] + job.plan.notes
            self.writer.write_view(built.record, job.svg, directory=self.directory)
        return task.id

    def locate(self, graph: int, op: str) -> dict:
        path, node = self.explorer.locate(graph, op)
        return {"view": self.make_view(path), "node": node}


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, server_state: Server, *args, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def log_message(self, format, *args) -> None:  # quiet: the terminal shows the URL and errors only
        pass

    def _local(self) -> bool:
        port = self.state.port
        return self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def do_HEAD(self):
        if not self._local():
            self.send_error(403, "only 127.0.0.1 may be asked")
            return
        super().do_HEAD()

    def do_GET(self):
        if not self._local():
            self.send_error(403, "only 127.0.0.1 may be asked")
            return
        url = urlsplit(self.path)
        try:
            if url.path == "/_locate":
                query = parse_qs(url.query)
                graph = int((query.get("g") or ["0"])[0])
                op = (query.get("op") or [""])[0]
                if not 0 <= graph < len(self.state.explorer.graphs):
                    raise GraphSurgeonError(f"no graph {graph}")
                self._json(self.state.locate(graph, op))
                return
            if url.path == "/_view":
                path = (parse_qs(url.query).get("path") or [""])[0]
                if not _PATH.match(path):
                    raise GraphSurgeonError("no such view")
                self._json({"view": self.state.make_view(path)})
                return
            match = _VIEW.match(url.path)
            if match and _PATH.match(match.group(1)):  # a short id is its own path
                self.state.make_view(match.group(1))
        except (GraphSurgeonError, ValueError) as exc:
            self.send_error(404, str(exc).splitlines()[0][:200].encode("ascii", "replace").decode())
            return
        super().do_GET()

    def _json(self, data) -> None:
        body = json.dumps(data, ensure_ascii=True).encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)
