"""The write-coalescing transport under uvicorn's protocol: one socket write per response."""

from __future__ import annotations

import asyncio

from collector.transport import CoalescingTransport


class RecordingTransport:
    """Stands in for the socket transport: records what reaches it, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.calls.append(("close", b""))
        self.closing = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_writes_of_one_loop_turn_reach_the_socket_as_one_write_in_order():
    """If this fails, a response costs a system call per write again, or its parts go out reordered."""
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 201 Created\r\n\r\n")
    transport.write(b'{"ids":[]}')
    assert real.calls == []
    await asyncio.sleep(0)
    assert real.calls == [("write", b'HTTP/1.1 201 Created\r\n\r\n{"ids":[]}')]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.calls[1:] == [("write", b"next")]
    assert transport.get_extra_info("peername") == "info:peername"


async def test_close_sends_what_is_held_before_closing():
    """If this fails, a Connection: close response (the drain) is cut off before its bytes are sent."""
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"headers")
    transport.write(b"body")
    transport.close()
    assert real.calls == [("write", b"headersbody"), ("close", b"")]
    await asyncio.sleep(0)
    assert real.calls == [("write", b"headersbody"), ("close", b"")]
