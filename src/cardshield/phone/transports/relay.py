"""The RTP relay (asyncio UDP): per call, one port facing the caller and one facing the agent.

Caller -> agent packets go through :class:`CallerToAgent` (events captured and dropped, audio
masked, restamped); agent -> caller packets pass unchanged. Each side's source is latched
from its first packet, and packets from any other address or port on that side are dropped
(counted, and logged once per session without their payload), so nobody who finds a relay
port can speak into a call or key digits into its capture. Where the agent's audio goes is
given at allocation, to a host the ``rtp_agent_hosts`` setting allows (:func:`agent_host_allowed`).
Sessions are allocated per call, closed on request, and swept after ``idle_s`` without a
packet. Digits reach the keypad on one worker thread, in
order, so the event loop never waits on the database.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import cast

from cardshield.phone.errors import RelayError, RelaySessionExists
from cardshield.phone.transports import DigitSink
from cardshield.phone.transports.masking import DEFAULT_EVENT_PT, CallerToAgent
from cardshield.redaction.logging import get_logger

log = get_logger(__name__)
Address = tuple[str, int]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, session: RelaySession, side: str) -> None:
        self.session = session
        self.side = side
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.session.received(self.side, data, (str(addr[0]), int(str(addr[1]))))


@dataclass
class RelaySession:
    call_sid: str
    caller_to_agent: CallerToAgent
    caller_addr: Address | None = None
    agent_addr: Address | None = None
    last_packet: float = field(default_factory=time.monotonic)
    caller: _Side | None = None
    agent: _Side | None = None
    forwarded: int = 0
    dropped_foreign: int = 0  # packets from a source other than the side's latched one
    owner: str | None = None  # the merchant that allocated it (API sessions)
    sources: dict[str, Address] = field(default_factory=dict)  # each side's latched source

    @property
    def caller_port(self) -> int:
        return _port(self.caller)

    @property
    def agent_port(self) -> int:
        return _port(self.agent)

    def received(self, side: str, data: bytes, addr: Address) -> None:
        if self.sources.setdefault(side, addr) != addr:
            self._foreign(side, addr)
            return
        self.last_packet = time.monotonic()
        if side == "caller":
            self.caller_addr = self.caller_addr or addr
            out = self.caller_to_agent.process(data)
            if out is not None and self.agent_addr and self.agent and self.agent.transport:
                self.agent.transport.sendto(out, self.agent_addr)
                self.forwarded += 1
        else:
            self.agent_addr = self.agent_addr or addr
            if self.caller_addr and self.caller and self.caller.transport:
                self.caller.transport.sendto(data, self.caller_addr)

    def _foreign(self, side: str, addr: Address) -> None:
        # Not the idle clock's business either: a stranger's packets must not keep a
        # session alive.
        self.dropped_foreign += 1
        if self.dropped_foreign == 1:
            log.warning(
                "phone.rtp.foreign_source",
                call_sid=self.call_sid,
                side=side,
                source=f"{addr[0]}:{addr[1]}",
                latched=f"{self.sources[side][0]}:{self.sources[side][1]}",
            )

    def close(self) -> None:
        for side in (self.caller, self.agent):
            if side is not None and side.transport is not None:
                side.transport.close()


def _port(side: _Side | None) -> int:
    if side is None or side.transport is None:
        return 0
    return int(side.transport.get_extra_info("sockname")[1])


def agent_host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """Whether ``host`` is one of ``allowed``: an IP address inside one of its addresses or
    networks, or a host name equal to one of its names (case-insensitive)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.rstrip(".").lower()
        return any(entry.rstrip(".").lower() == name for entry in allowed)
    for entry in allowed:
        with suppress(ValueError):  # a host name entry
            if address in ipaddress.ip_network(entry):
                return True
    return False


class _OrderedSink:
    """Hands digits to ``sink`` on one worker thread, in arrival order."""

    def __init__(self, sink: DigitSink, pool: ThreadPoolExecutor) -> None:
        self.sink = sink
        self.pool = pool

    def press(self, call_sid: str, digit: str) -> None:
        self.pool.submit(self.sink.press, call_sid, digit)


class RtpRelay:
    def __init__(self, sink: DigitSink, *, host: str = "127.0.0.1", idle_s: float = 30.0):
        self.host = host
        self.idle_s = idle_s
        self.sessions: dict[str, RelaySession] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rtp-digits")
        self._sink = _OrderedSink(sink, self._pool)

    async def allocate(
        self,
        call_sid: str,
        *,
        agent_addr: Address | None = None,
        event_pt: int = DEFAULT_EVENT_PT,
    ) -> RelaySession:
        if call_sid in self.sessions:
            raise RelaySessionExists
        loop = asyncio.get_running_loop()
        session = RelaySession(call_sid, CallerToAgent(self._sink, call_sid, event_pt=event_pt))
        session.agent_addr = agent_addr
        try:
            _, session.caller = await loop.create_datagram_endpoint(
                lambda: _Side(session, "caller"), local_addr=(self.host, 0)
            )
            _, session.agent = await loop.create_datagram_endpoint(
                lambda: _Side(session, "agent"), local_addr=(self.host, 0)
            )
        except OSError as exc:
            session.close()
            raise RelayError(f"no UDP port: {exc.strerror}") from exc
        self.sessions[call_sid] = session
        log.info("phone.rtp.allocate", call_sid=call_sid, caller_port=session.caller_port)
        return session

    def release(self, call_sid: str) -> bool:
        session = self.sessions.pop(call_sid, None)
        if session is None:
            return False
        session.close()
        log.info(
            "phone.rtp.release",
            call_sid=call_sid,
            forwarded=session.forwarded,
            dropped_foreign=session.dropped_foreign,
        )
        return True

    def sweep(self, now: float | None = None) -> list[str]:
        """Close sessions idle longer than ``idle_s``; returns their call ids."""
        now = time.monotonic() if now is None else now
        idle = [c for c, s in self.sessions.items() if now - s.last_packet > self.idle_s]
        for call_sid in idle:
            self.release(call_sid)
        return idle

    def drain(self) -> None:
        """Wait until every captured digit has reached the keypad."""
        self._pool.submit(lambda: None).result()

    def close(self) -> None:
        for call_sid in list(self.sessions):
            self.release(call_sid)
        self._pool.shutdown(wait=True)
