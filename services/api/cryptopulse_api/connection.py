"""Direct access to a WebSocket connection under uvicorn's ``websockets-sansio`` protocol.

ASGI gives an application a ``send`` coroutine per connection, nothing more. A server that fans
one message out to thousands of clients needs three things it does not offer:

- write the same pre-built frame to every connection: through ASGI each send is a str the server
  encodes, frames and copies again, per client (about half the cost of a fan-out);
- cap what the kernel buffers for each connection (``SO_SNDBUF``), so a stalled client holds
  kilobytes rather than the 4 MB autotuning grows to;
- reset a connection whose peer stopped reading: a close frame can never reach it.

Uvicorn's WebSocket protocols pass their bound ``send`` method; its instance holds the asyncio
transport, the ``writable`` event its own ``send`` waits on, and the connection state.
:meth:`DirectConnection.of` checks that they are all there and returns None otherwise (another
server or protocol): the hub then uses the ASGI ``send`` and close frames. A test pins that the
server as configured (``server_config``) takes the direct path.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State


def text_frame(text: str) -> bytes:
    """A complete server-to-client text frame (unmasked, unfragmented, uncompressed).

    Uncompressed frames are valid whether or not permessage-deflate was negotiated (RFC 7692:
    only frames with RSV1 set are compressed).
    """
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class DirectConnection:
    __slots__ = ("_protocol", "_transport", "_writable")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._writable: asyncio.Event = protocol.writable

    @classmethod
    def of(cls, send: Any) -> DirectConnection | None:
        protocol = getattr(send, "__self__", None)
        transport = getattr(protocol, "transport", None)
        if (
            isinstance(getattr(protocol, "writable", None), asyncio.Event)
            and isinstance(getattr(protocol, "close_sent", None), bool)
            and isinstance(getattr(protocol, "disconnected", None), bool)
            and isinstance(getattr(getattr(protocol, "conn", None), "state", None), State)
            and all(callable(getattr(transport, name, None)) for name in ("write", "abort"))
        ):
            return cls(protocol)
        return None

    @property
    def writable(self) -> bool:
        """False while the transport's buffer is above its high-water mark."""
        return self._writable.is_set()

    def ready(self) -> bool:
        """Open and writable: a frame written now goes out without waiting (the fan-out's hot
        path: after a close, sent or received, uvicorn closes the transport)."""
        return (
            self._writable.is_set()
            and not self._protocol.close_sent
            and not self._transport.is_closing()
        )

    async def wait_writable(self) -> None:
        await self._writable.wait()

    @property
    def open(self) -> bool:
        protocol = self._protocol
        return (
            protocol.conn.state is State.OPEN
            and not protocol.close_sent
            and not protocol.disconnected
            and not self._transport.is_closing()
        )

    def write(self, frame: bytes) -> None:
        self._transport.write(frame)

    def limit_send_buffer(self, size: int) -> None:
        """Cap the kernel's send buffer (Linux doubles ``size``; 0 leaves it to autotuning,
        which grows it up to ``net.ipv4.tcp_wmem``'s maximum, 4 MB by default)."""
        sock = self._transport.get_extra_info("socket")
        if size > 0 and sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def abort(self) -> None:
        """Reset the connection. ``SO_LINGER`` 0 makes the close a RST that discards what the
        kernel still holds for the peer; a plain close would keep trickling it out for as long
        as the peer reads."""
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._transport.abort()
