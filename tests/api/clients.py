"""WebSocket clients for the API tests and the fan-out benchmark."""

from __future__ import annotations

import base64
import os
import socket


def stalled_client(
    url: str, receive_buffer: int = 1024, origin: str | None = None
) -> socket.socket:
    """A real WebSocket client that completes the handshake and then never reads.

    Its receive buffer is tiny (``SO_RCVBUF``, set before connecting so the TCP window is
    small from the start): once it and the server's send buffer are full, every send to it
    blocks, as it does for a browser tab that stopped reading or a peer on a dead network.
    """
    host, _, rest = url.removeprefix("ws://").partition(":")
    port, _, path = rest.partition("/")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    headers = [
        f"GET /{path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        headers.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)  # byte by byte: leave every frame after the handshake unread
        if not chunk:
            raise ConnectionError(f"{url} closed the connection during the handshake")
        response += chunk
    status = response.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        sock.close()
        raise ConnectionError(f"{url} refused the WebSocket handshake: {status.decode()}")
    return sock
