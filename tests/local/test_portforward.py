"""One GET over a port-forward's socket: framed by h11, never waiting for a close that a
port-forward may not pass on. The far end here is the other half of a real socket pair."""

from __future__ import annotations

import re
import socket

import pytest

from cryptopulse_local.portforward import http_get


def answered(response: bytes, *, close: bool) -> tuple[socket.socket, socket.socket]:
    """A connected pair whose far end has already sent ``response`` (and closed if ``close``)."""
    near, far = socket.socketpair()
    near.settimeout(5)
    far.sendall(response)
    if close:
        far.shutdown(socket.SHUT_WR)
    return near, far


def test_a_content_length_body_is_read_without_waiting_for_the_close() -> None:
    near, far = answered(
        b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\ncontent-type: text/plain\r\n\r\n{"ok": true}',
        close=False,
    )
    with far:
        assert http_get(near, "/health") == (200, b'{"ok": true')
        request = far.recv(65536)
    assert request.startswith(b"GET /health HTTP/1.1\r\n")
    assert near.fileno() == -1  # closed


def test_a_chunked_body_is_joined() -> None:
    near, far = answered(
        b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nnot \r\n5\r\nready\r\n0\r\n\r\n",
        close=False,
    )
    with far:
        assert http_get(near, "/api/v1/targets") == (503, b"not ready")


def test_a_body_cut_short_is_an_error_not_a_truncated_answer() -> None:
    near, far = answered(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", close=True)
    with far, pytest.raises(ValueError, match=re.escape("GET /config.json")):
        http_get(near, "/config.json")


def test_an_answer_that_is_not_http_is_a_value_error() -> None:
    near, far = answered(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", close=True)
    with far, pytest.raises(ValueError, match=re.escape("not an HTTP/1.1 answer")):
        http_get(near, "/health")


def test_a_silent_far_end_times_out_as_an_os_error() -> None:
    near, far = socket.socketpair()
    near.settimeout(0.2)
    with far, pytest.raises(TimeoutError):
        http_get(near, "/health")
