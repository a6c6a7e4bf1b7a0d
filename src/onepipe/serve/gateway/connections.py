"""The gateway's HTTP connections: stalled requests are closed, half-closed clients answered.

uvicorn's httptools protocol, with two changes uvicorn (0.54) has no setting for:

* **A read deadline.** uvicorn's ``timeout_keep_alive`` only runs between requests; a
  connection that never sends a byte, or stops half-way through its headers or body,
  is held for ever (300 such connections were never closed). Here a request must
  arrive whole within ``read_timeout`` of its first byte, and a new connection must
  start one within ``read_timeout`` as well. Past it the client gets a 408 (when a
  request had begun) and the connection is closed; a handler waiting for that body
  sees a disconnect.
* **Half-close.** A client may send a complete request and then shut its sending side
  (``shutdown(SHUT_WR)``, e.g. ``nc -N``). asyncio closes a transport whose peer sent
  EOF unless the protocol asks to keep it, and uvicorn does not ask: the answer was
  computed and then dropped (0 of 10 answered). Here, when the request in hand is
  complete, the connection stays open for the answer and closes after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


class GatewayProtocol(HttpToolsProtocol):
    read_timeout: float = 30.0  # set per server by protocol_class()

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._reading = False  # a request has begun and has not arrived whole
        self._current: Any = None  # its request-response cycle, once its headers arrived
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        answered = self._current is not None and self._current.response_started
        if self._reading and not answered:  # e.g. not after an early 413 for a too large body
            body = (
                b'{"error": "request not received whole within %gs '
                b'(serve.gateway.read_timeout_s)"}' % self.read_timeout
            )
            self.transport.write(TIMED_OUT % (len(body), body))
        self.transport.close()  # the handler waiting for the body sees a disconnect

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading, self._current = True, None
        self._arm()  # a new connection's deadline already runs from its first byte

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._current = self.cycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading = False
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:
        cycle = self.cycle
        if cycle is not None and not self._reading and not cycle.response_complete:
            cycle.keep_alive = False  # answer this request, then close
            return True  # keep the transport open for writing
        return None  # nothing whole to answer: asyncio closes the connection


def protocol_class(read_timeout: float) -> type[GatewayProtocol]:
    """The protocol uvicorn builds per connection (``uvicorn.Config(http=...)``)."""
    return type("GatewayProtocol", (GatewayProtocol,), {"read_timeout": read_timeout})
