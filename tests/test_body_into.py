"""`ranged.body_into`: a storage body read from the socket straight into a reused buffer, and
a content-encoded one decoded through `iter_content` (against a plain HTTP origin on
127.0.0.1, not the local W&B server, so the encoding can be chosen)."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from conftest import plain_http_origin

from prefect_wandb_public.api.ranged import body_into


@pytest.fixture
def plain_origin() -> Iterator[tuple[str, bytes]]:
    """A plain HTTP origin on 127.0.0.1: `/gzip` serves a body gzip-encoded (Content-Encoding),
    `/identity` the same bytes as they are; returns its URL and the bytes."""
    data = os.urandom(64 * 1024) + b"z" * (512 * 1024)
    bodies = {"/gzip": gzip.compress(data), "/identity": data}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies[self.path]
            self.send_response(200)
            if self.path == "/gzip":
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    with plain_http_origin(Handler) as url:
        yield url, data


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_a_body_is_read_into_the_buffer_unless_content_encoded(
    plain_origin: tuple[str, bytes], encoding: str
) -> None:
    url, data = plain_origin
    buffer = memoryview(bytearray(64 * 1024))
    with requests.get(f"{url}/{encoding}", stream=True, timeout=10) as response:
        chunks = [
            (bytes(chunk), isinstance(chunk, memoryview)) for chunk in body_into(response, buffer)
        ]

    assert b"".join(chunk for chunk, _ in chunks) == data  # decoded when it was encoded
    assert max(len(chunk) for chunk, _ in chunks) <= len(buffer)
    # Straight into the buffer (views of it) only when the bytes on the wire are the body's.
    assert {view for _, view in chunks} == {encoding == "identity"}
