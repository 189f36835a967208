#!/usr/bin/python3
"""wsbench target server on Tornado (tornado.web + WebSocketHandler).

Implements targets/CONTRACT.md: /healthz, /stats, /echo, /broadcast?room=R
and /push?rate=N&size=B&count=C, server pings, close codes 1009, 1007, 1011
and 1001. Pinging and the size limit use Tornado's own application settings
(websocket_ping_interval, websocket_ping_timeout, websocket_max_message_size).

Two clauses need a small protocol subclass (ContractProtocol, installed
through WebSocketHandler.get_websocket_protocol):
  * on a ping timeout Tornado closes with an empty close frame (no status
    code); ContractProtocol closes with 1011 instead;
  * on invalid UTF-8 Tornado drops the TCP connection without a close frame;
    ContractProtocol closes with 1007 first.

Scale-out (see wsbench_scaleout.py): --bus redis://HOST:PORT bridges
broadcast rooms through Redis pub/sub, --loop uvloop runs Tornado's IOLoop
on uvloop (Tornado 6 runs on asyncio), --accel off switches Tornado's C
speedup (tornado.speedups.websocket_mask) off.

Usage: tornado_server.py [--addr HOST:PORT] [--ping-interval S]
                         [--ping-timeout S] [--max-message-size BYTES]
                         [--bus redis://HOST:PORT] [--loop asyncio|uvloop]
                         [--accel auto|off]
"""

import argparse
import json
import signal
import time

import wsbench_scaleout as scaleout

# Tornado picks its C speedup when it is imported: decide first.
scaleout.apply_accel("tornado", scaleout.early_options().accel)

import tornado  # noqa: E402 - after apply_accel, on purpose
import tornado.gen
import tornado.httpserver
import tornado.netutil
import tornado.web  # noqa: E402
from tornado.ioloop import IOLoop  # noqa: E402
from tornado.websocket import (  # noqa: E402
    WebSocketClosedError,
    WebSocketHandler,
    WebSocketProtocol13,
)

MAX_PUSH_RATE = 100_000
SHUTDOWN_GRACE = 1.0  # seconds to wait for clients to answer 1001


def text_len(message):
    """Returns the payload size of a text or binary message in bytes."""
    if isinstance(message, bytes):
        return len(message)
    return len(message) if message.isascii() else len(message.encode("utf-8"))


def push_message(seq, size):
    """Returns the contract's push message, exactly max(size, minimum) bytes."""
    head = '{"seq":%d,"ts_ns":%d,"pad":"' % (seq, time.time_ns())
    return head + "x" * max(0, size - len(head) - 2) + '"}'


def parse_push_args(get):
    """Parses rate, size and count from a query-argument getter."""
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
    """Counters, open connections and broadcast rooms, shared by handlers."""

    def __init__(self):
        self.connections_total = 0
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.handlers = set()
        self.rooms = {}  # room name -> dict of handlers (insertion-ordered)
        self.room_stats = scaleout.Rooms()
        self.bus = None  # a scaleout.RedisBus with --bus
        self.info = {}

    def stats(self):
        stats = {
            "connections_total": self.connections_total,
            "connections_open": len(self.handlers),
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
        # write_message only appends to each member's stream buffer, with no
        # await in between, so every member sees the room's messages in the
        # order this loop runs, which is the order they were received (from
        # the room's members here, or from the bus).
        members = list(self.rooms.get(room, ()))
        sent = 0
        for member in members:
            try:
                member.send(message)
                sent += 1
            except WebSocketClosedError:
                pass
        self.room_stats.delivered(room, sent)


class ContractProtocol(WebSocketProtocol13):
    """Tornado's protocol with the contract's close codes (see module doc)."""

    def periodic_ping(self):
        # Same test as WebSocketProtocol13.periodic_ping, which would call
        # close() without a code; run it first and close with 1011.
        if not self.is_closing() and self.ping_timeout:
            now = IOLoop.current().time()
            if (now - self.last_ping < 2 * self.ping_interval
                    and now - self.last_pong > self.ping_timeout):
                self.close(1011, "ping timeout")
                return
        super().periodic_ping()

    def _handle_message(self, opcode, data):
        # Tornado aborts the connection on invalid UTF-8; close with 1007.
        # Tornado has no hook between reading and decoding, so text is
        # decoded twice (validation here, then Tornado's own decode).
        # Compression is off, so data is the raw payload here.
        if opcode == 0x1 and not self.client_terminated:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                self.close(1007, "invalid UTF-8")
                return None
        return super()._handle_message(opcode, data)


class TargetHandler(WebSocketHandler):
    """Base for the WebSocket endpoints: counting, registration, sending."""

    def initialize(self, hub):
        self.hub = hub

    def get_websocket_protocol(self):
        protocol = super().get_websocket_protocol()
        if type(protocol) is WebSocketProtocol13:
            protocol = ContractProtocol(self, False, protocol.params)
        return protocol

    def check_origin(self, origin):
        return True  # load-testing clients come from anywhere

    def open(self, *args, **kwargs):
        # Tornado leaves Nagle's algorithm on; small messages then wait for
        # delayed ACKs (~40 ms), which a latency benchmark must not measure.
        self.set_nodelay(True)
        self.hub.connections_total += 1
        self.hub.handlers.add(self)

    def on_close(self):
        self.hub.handlers.discard(self)

    def on_message(self, message):
        self.hub.messages_in += 1
        self.hub.bytes_in += text_len(message)
        self.handle(message)

    def handle(self, message):
        """Handles one data message; the base class ignores it."""

    def send(self, message):
        """Sends a message with its own opcode; returns the write future."""
        future = self.write_message(message, binary=isinstance(message, bytes))
        self.hub.messages_out += 1
        self.hub.bytes_out += text_len(message)
        return future


class EchoHandler(TargetHandler):
    def handle(self, message):
        try:
            self.send(message)
        except WebSocketClosedError:
            pass


class BroadcastHandler(TargetHandler):
    def open(self):
        super().open()
        self.room = self.get_query_argument("room", "default")
        self.hub.rooms.setdefault(self.room, {})[self] = None
        self.hub.room_stats.joined(self.room)

    def on_close(self):
        super().on_close()
        members = self.hub.rooms.get(getattr(self, "room", None))
        if members is not None and self in members:
            members.pop(self)
            self.hub.room_stats.left(self.room)
            if not members:
                del self.hub.rooms[self.room]

    def handle(self, message):
        self.hub.room_stats.published(self.room)
        if self.hub.bus is not None:
            self.hub.bus.publish(self.room, message)  # delivered when it comes back
        else:
            self.hub.deliver(self.room, message)


class PushHandler(TargetHandler):
    def prepare(self):
        try:
            self.push_args = parse_push_args(self.get_query_argument)
        except ValueError as exc:
            raise tornado.web.HTTPError(400, reason=str(exc)) from exc

    def open(self):
        super().open()
        self.running = True
        IOLoop.current().spawn_callback(self.push, *self.push_args)

    def on_close(self):
        super().on_close()
        self.running = False

    async def push(self, rate, size, count):
        """Sends on an absolute schedule: message i is due at start + i/rate."""
        loop = IOLoop.current()
        start = loop.time()
        seq = 0
        while self.running and (count is None or seq < count):
            delay = start + seq / rate - loop.time()
            if delay > 0:
                await tornado.gen.sleep(delay)
                if not self.running:
                    return
            try:
                # Awaiting the write lets a slow client hold the sender back;
                # the absolute schedule catches up without skipping seqs.
                await self.send(push_message(seq, size))
            except WebSocketClosedError:
                return
            seq += 1


class HealthzHandler(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("ok")


class StatsHandler(tornado.web.RequestHandler):
    def initialize(self, hub):
        self.hub = hub

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.hub.stats()))


class RoomStatsHandler(tornado.web.RequestHandler):
    def initialize(self, hub):
        self.hub = hub

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.hub.room_stats.rooms))


class InfoHandler(tornado.web.RequestHandler):
    def initialize(self, hub):
        self.hub = hub

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.hub.info))


def make_app(hub, args):
    settings = {
        # 0 disables pings; a zero timeout means "never time out" (Tornado
        # itself would pick max(3 * interval, 30 s) for None).
        "websocket_ping_interval": args.ping_interval or None,
        "websocket_ping_timeout": args.ping_timeout or float("inf"),
        "websocket_max_message_size": args.max_message_size,
    }
    return tornado.web.Application([
        (r"/healthz", HealthzHandler),
        (r"/stats", StatsHandler, {"hub": hub}),
        (r"/stats/rooms", RoomStatsHandler, {"hub": hub}),
        (r"/info", InfoHandler, {"hub": hub}),
        (r"/echo", EchoHandler, {"hub": hub}),
        (r"/broadcast", BroadcastHandler, {"hub": hub}),
        (r"/push", PushHandler, {"hub": hub}),
    ], **settings)


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
    scaleout.add_arguments(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    scaleout.install_loop(args.loop)  # before the IOLoop (an asyncio loop) exists
    host, _, port = args.addr.rpartition(":")
    hub = Hub()
    loop = IOLoop.current()

    async def setup():
        if args.bus:
            hub.bus = scaleout.RedisBus(args.bus, hub.deliver, scaleout.fatal)
            await hub.bus.start()
        hub.info = scaleout.info("tornado", tornado.version, scaleout.loop_name(), hub.bus, args.accel)

    # The bus is subscribed before the first client can connect.
    loop.run_sync(setup)
    server = tornado.httpserver.HTTPServer(make_app(hub, args))
    sockets = tornado.netutil.bind_sockets(int(port), address=host.strip("[]"))
    server.add_sockets(sockets)

    async def shutdown():
        server.stop()
        for handler in list(hub.handlers):
            handler.close(1001, "server shutting down")
        deadline = loop.time() + SHUTDOWN_GRACE
        while hub.handlers and loop.time() < deadline:
            await tornado.gen.sleep(0.01)
        if hub.bus is not None:
            await hub.bus.close()
        loop.stop()

    def on_signal(signum, frame):
        loop.add_callback_from_signal(shutdown)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("LISTENING %s" % format_addr(sockets[0].getsockname()), flush=True)
    loop.start()


if __name__ == "__main__":
    main()
