"""A tiny real HTTP server standing in for the catalog's snapshot API (GET /api/v1/snapshot)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.contracts.catalog_snapshot import CatalogSnapshot, etag_of


class CatalogStub:
    def __init__(self, snapshot: CatalogSnapshot) -> None:
        self.body = snapshot.model_dump_json().encode()
        self.up = True
        self.hits = 0
        self.not_modified = 0  # answers 304 to the matcher's If-None-Match, as the catalog does
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                stub.hits += 1
                if self.path != "/api/v1/snapshot" or not stub.up:
                    self.send_response(503 if not stub.up else 404)
                    self.end_headers()
                    return
                etag = etag_of(stub.body)
                if self.headers.get("If-None-Match") == etag:
                    stub.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(stub.body)))
                self.end_headers()
                self.wfile.write(stub.body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, snapshot: CatalogSnapshot) -> None:
        self.body = snapshot.model_dump_json().encode()

    def __enter__(self) -> CatalogStub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
