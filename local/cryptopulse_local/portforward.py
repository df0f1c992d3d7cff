"""HTTP over a Kubernetes port-forward: one GET on a socket the ``kubernetes`` client opened.

``kubernetes.stream.portforward`` hands back a plain socket, not a URL an HTTP client can use, so
the request and its answer are framed by h11 (the HTTP/1.1 state machine under httpx and uvicorn).
The body is read by its framing (Content-Length or chunked), never by waiting for the connection
to close: a port-forward does not always pass the server's close on.
"""

from __future__ import annotations

import socket

import h11

RECEIVE_BYTES = 65536


def http_get(sock: socket.socket, path: str, host: str = "localhost") -> tuple[int, bytes]:
    """Send ``GET path`` on the connected ``sock`` and return ``(status, body)``; closes ``sock``.

    Raises ``OSError`` for a socket error or timeout (the caller sets the socket's timeout) and
    ``ValueError`` for an answer that is not HTTP/1.1 or ends early.
    """
    connection = h11.Connection(h11.CLIENT)
    status = 0
    body = bytearray()
    try:
        request = h11.Request(
            method="GET", target=path, headers=[("Host", host), ("Connection", "close")]
        )
        sock.sendall(connection.send(request) + connection.send(h11.EndOfMessage()))
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(sock.recv(RECEIVE_BYTES))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return status, bytes(body)
    except h11.ProtocolError as error:
        raise ValueError(f"not an HTTP/1.1 answer to GET {path}: {error}") from error
    finally:
        sock.close()
