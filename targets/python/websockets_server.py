#!/usr/bin/python3
"""wsbench target server on asyncio + websockets.

Implements targets/CONTRACT.md: /healthz, /stats, /echo, /broadcast?room=R
and /push?rate=N&size=B&count=C, server pings, close codes 1009, 1007, 1011
and 1001. It uses websockets.serve, which in websockets 10.x is the asyncio
implementation (the newer websockets.asyncio API arrived in 13.0). The
library covers every clause natively: ping_interval/ping_timeout close with
1011, max_size with 1009, invalid UTF-8 with 1007, client close codes are
echoed, and closing the server closes every connection with 1001. The plain
HTTP endpoints are answered from process_request.

Compression is off by default (the library's default is permessage-deflate)
so that it compares with the other targets; --compression deflate turns it
on for clients that offer it.

Scale-out (see wsbench_scaleout.py): --bus redis://HOST:PORT bridges
broadcast rooms through Redis pub/sub, --loop uvloop runs on uvloop, --accel
off blocks websockets.speedups (Debian's python3-websockets 10.4 ships
without it, so the mask is pure Python either way; GET /info says so).

Usage: websockets_server.py [--addr HOST:PORT] [--ping-interval S]
                            [--ping-timeout S] [--max-message-size BYTES]
                            [--compression none|deflate]
                            [--bus redis://HOST:PORT] [--loop asyncio|uvloop]
                            [--accel auto|off]
"""

import argparse
import asyncio
import http
import json
import signal
import time
import urllib.parse

import wsbench_scaleout as scaleout

# websockets picks its C speedup when it is imported: decide first.
scaleout.apply_accel("websockets", scaleout.early_options().accel)

import websockets  # noqa: E402 - after apply_accel, on purpose

MAX_PUSH_RATE = 100_000
SHUTDOWN_GRACE = 1.0  # seconds to wait for clients to answer 1001


def text_len(message):
    """Returns the payload size of a text or binary message in bytes."""
    if isinstance(message, str):
        return len(message) if message.isascii() else len(message.encode("utf-8"))
    return len(message)


def push_message(seq, size):
    """Returns the contract's push message, exactly max(size, minimum) bytes."""
    head = '{"seq":%d,"ts_ns":%d,"pad":"' % (seq, time.time_ns())
    return head + "x" * max(0, size - len(head) - 2) + '"}'


def parse_push_args(query):
    """Parses rate, size and count from a parsed query string."""
    def get(name, default):
        values = query.get(name)
        return values[0] if values else default

    rate = float(get("rate", "10"))
    size = int(get("size", "64"))
    count = get("count", None)
    count = None if count is None else int(count)
    if not 0 < rate <= MAX_PUSH_RATE:
        raise ValueError("rate must be in (0, %d]" % MAX_PUSH_RATE)
    if size < 0 or (count is not None and count < 0):
        raise ValueError("size and count must not be negative")
    return rate, size, count


class Hub:
    """Counters, broadcast rooms and the connection handlers."""

    def __init__(self):
        self.connections_total = 0
        self.connections_open = 0
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.rooms = {}  # room name -> set of connections
        self.room_stats = scaleout.Rooms()
        self.bus = None  # a scaleout.RedisBus with --bus
        self.info = {}

    def stats(self):
        stats = {
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }
        stats.update(self.room_stats.totals())
        if self.bus is not None:
            stats.update(self.bus.stats())
        return stats

    def deliver(self, room, message):
        """Sends a room's message to this process's members of the room."""
        # websockets.broadcast writes to every connection synchronously,
        # with no await in between, so all members get the room's messages
        # in the order they were received (from the room's members here, or
        # from the bus). It skips connections that are closing; so do the
        # counters.
        recipients = [m for m in self.rooms.get(room, ()) if m.open]
        websockets.broadcast(recipients, message)
        self.sent(message, len(recipients))
        self.room_stats.delivered(room, len(recipients))

    def received(self, message):
        self.messages_in += 1
        self.bytes_in += text_len(message)

    def sent(self, message, copies=1):
        self.messages_out += copies
        self.bytes_out += copies * text_len(message)

    async def process_request(self, path, request_headers):
        """Answers the plain HTTP endpoints and rejects unknown paths before
        the WebSocket handshake; None lets the handshake go on."""
        url = urllib.parse.urlsplit(path)
        if url.path == "/healthz":
            return http.HTTPStatus.OK, [("Content-Type", "text/plain")], b"ok"
        if url.path == "/stats":
            body = json.dumps(self.stats()).encode()
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], body
        if url.path == "/stats/rooms":
            body = json.dumps(self.room_stats.rooms).encode()
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], body
        if url.path == "/info":
            body = json.dumps(self.info).encode()
            return http.HTTPStatus.OK, [("Content-Type", "application/json")], body
        if url.path == "/push":
            try:
                parse_push_args(urllib.parse.parse_qs(url.query))
            except ValueError as exc:
                return http.HTTPStatus.BAD_REQUEST, [], str(exc).encode()
            return None
        if url.path in ("/echo", "/broadcast"):
            return None
        return http.HTTPStatus.NOT_FOUND, [], b"not found"

    async def handler(self, websocket):
        """Serves one WebSocket connection on the endpoint it asked for."""
        self.connections_total += 1
        self.connections_open += 1
        url = urllib.parse.urlsplit(websocket.path)
        query = urllib.parse.parse_qs(url.query)
        try:
            if url.path == "/echo":
                await self.echo(websocket)
            elif url.path == "/broadcast":
                await self.broadcast(websocket, query.get("room", ["default"])[0])
            elif url.path == "/push":
                await self.push(websocket, *parse_push_args(query))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.connections_open -= 1

    async def echo(self, websocket):
        async for message in websocket:
            self.received(message)
            await websocket.send(message)
            self.sent(message)

    async def broadcast(self, websocket, room):
        members = self.rooms.setdefault(room, set())
        members.add(websocket)
        self.room_stats.joined(room)
        try:
            async for message in websocket:
                self.received(message)
                self.room_stats.published(room)
                if self.bus is not None:
                    self.bus.publish(room, message)  # delivered when it comes back
                else:
                    self.deliver(room, message)
        finally:
            members.discard(websocket)
            self.room_stats.left(room)
            if not members:
                del self.rooms[room]

    async def push(self, websocket, rate, size, count):
        # Incoming messages must still be read: the library queues at most
        # max_queue of them and then stops reading, pongs and close included.
        reader = asyncio.create_task(self.discard_incoming(websocket))
        try:
            loop = asyncio.get_running_loop()
            start = loop.time()
            seq = 0
            while count is None or seq < count:
                delay = start + seq / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                # send() waits for the write buffer to drain, so a slow
                # client holds the sender back; the absolute schedule then
                # catches up without skipping any seq.
                message = push_message(seq, size)
                await websocket.send(message)
                self.sent(message)
                seq += 1
            await reader  # stay connected until the client leaves
        finally:
            reader.cancel()

    async def discard_incoming(self, websocket):
        try:
            async for message in websocket:
                self.received(message)
        except websockets.ConnectionClosed:
            pass


def format_addr(sockname):
    """Formats a socket name as HOST:PORT ([HOST]:PORT for IPv6)."""
    host, port = sockname[:2]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:8765")
    parser.add_argument("--ping-interval", type=float, default=20.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--max-message-size", type=int, default=1 << 20)
    parser.add_argument("--compression", choices=["none", "deflate"], default="none",
                        help="permessage-deflate (default: none)")
    scaleout.add_arguments(parser)
    return parser.parse_args()


async def main(args):
    host, _, port = args.addr.rpartition(":")
    hub = Hub()
    if args.bus:
        # Subscribed before the first client can connect.
        hub.bus = scaleout.RedisBus(args.bus, hub.deliver, scaleout.fatal)
        await hub.bus.start()
    hub.info = scaleout.info("websockets", websockets.__version__, scaleout.loop_name(), hub.bus, args.accel)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)

    async with websockets.serve(
        hub.handler,
        host.strip("[]"),
        int(port),
        process_request=hub.process_request,
        # None disables pings; a zero timeout means "never time out".
        ping_interval=args.ping_interval or None,
        ping_timeout=args.ping_timeout or None,
        max_size=args.max_message_size,
        compression=None if args.compression == "none" else "deflate",
        close_timeout=SHUTDOWN_GRACE,
    ) as server:
        print("LISTENING %s" % format_addr(server.sockets[0].getsockname()), flush=True)
        await stop.wait()
    # Leaving the block closes the server: it stops listening, closes every
    # connection with 1001 and waits for the handlers to finish.
    if hub.bus is not None:
        await hub.bus.close()


if __name__ == "__main__":
    ARGS = parse_args()
    scaleout.install_loop(ARGS.loop)  # asyncio.run creates its loop from the policy
    asyncio.run(main(ARGS))
