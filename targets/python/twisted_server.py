#!/usr/bin/python3
"""wsbench target server on Twisted + Autobahn.

Implements targets/CONTRACT.md: /healthz, /stats, /echo, /broadcast?room=R
and /push?rate=N&size=B&count=C, server pings, close codes 1009, 1007, 1011
and 1001. A twisted.web Site serves the plain HTTP endpoints; each WebSocket
endpoint is an autobahn WebSocketResource with its own protocol class.
Autobahn's protocol options provide pings (autoPingInterval/autoPingTimeout),
the size limit (maxMessagePayloadSize) and UTF-8 validation.

Adjustments to Autobahn's defaults:
  * failByDrop=False: by default Autobahn fails a connection (oversized
    message, invalid UTF-8) by dropping TCP; with False it sends the close
    frame (1009, 1007) first.
  * echoCloseCodeReason=True: by default Autobahn answers a client's close
    frame with 1000; the contract wants the client's code echoed.
  * on a ping timeout Autobahn drops TCP without a close frame;
    TargetProtocol.onAutoPingTimeout closes with 1011 instead.
  * 1001 on shutdown (and 1011) are sent with sendCloseFrame, because
    sendClose only accepts 1000 and 3000-4999.
  * Autobahn schedules its timers (auto-ping, ping timeout, closing
    handshake) on txaio's batched timer, which in txaio 21.2.1 truncates
    every deadline to a whole second, so sub-second settings fire at once
    and longer ones up to a second early. TargetFactory gives Autobahn a
    plain reactor.callLater timer instead.

Scale-out (see wsbench_scaleout.py): --accel off hides wsaccel (Debian's
python3-wsaccel), so Autobahn falls back to its pure-Python UTF-8 validator
and XOR masker. --bus redis://HOST:PORT bridges broadcast rooms through
Redis pub/sub with the same asyncio bus as the other targets, so it needs
Twisted's asyncio reactor (--reactor asyncio, chosen automatically with
--bus or --loop uvloop), on which --loop uvloop also works.

Usage: twisted_server.py [--addr HOST:PORT] [--ping-interval S]
                         [--ping-timeout S] [--max-message-size BYTES]
                         [--reactor epoll|poll|select|asyncio]
                         [--bus redis://HOST:PORT] [--loop asyncio|uvloop]
                         [--accel auto|off]
"""

import argparse
import asyncio
import json
import sys
import time

import wsbench_scaleout as scaleout

# Autobahn picks wsaccel when it is imported: decide first.
scaleout.apply_accel("twisted", scaleout.early_options().accel)

import txaio  # noqa: E402 - after apply_accel, on purpose

txaio.use_twisted()

MAX_PUSH_RATE = 100_000
SHUTDOWN_GRACE = 1.0  # seconds to wait for clients to answer 1001


def push_message(seq, size):
    """Returns the contract's push message, exactly max(size, minimum) bytes."""
    head = b'{"seq":%d,"ts_ns":%d,"pad":"' % (seq, time.time_ns())
    return head + b"x" * max(0, size - len(head) - 2) + b'"}'


def parse_push_args(params):
    """Parses rate, size and count from Autobahn's request.params."""
    def get(name, default):
        values = params.get(name)
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


def install_reactor(name, loop="asyncio"):
    """Installs the named reactor; must run before twisted.internet.reactor
    is imported anywhere."""
    if name == "asyncio":
        from twisted.internet import asyncioreactor
        scaleout.install_loop(loop)
        eventloop = asyncio.new_event_loop()
        asyncio.set_event_loop(eventloop)
        asyncioreactor.install(eventloop)
        return
    if name == "epoll":
        from twisted.internet import epollreactor as module
    elif name == "poll":
        from twisted.internet import pollreactor as module
    elif name == "select":
        from twisted.internet import selectreactor as module
    else:
        return
    module.install()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addr", default="127.0.0.1:8765")
    parser.add_argument("--ping-interval", type=float, default=20.0)
    parser.add_argument("--ping-timeout", type=float, default=20.0)
    parser.add_argument("--max-message-size", type=int, default=1 << 20)
    parser.add_argument("--reactor", choices=["epoll", "poll", "select", "asyncio"],
                        help="Twisted reactor (default: Twisted's choice; asyncio with --bus "
                             "or --loop uvloop)")
    scaleout.add_arguments(parser)
    args = parser.parse_args()
    if args.bus or args.loop == "uvloop":
        if args.reactor not in (None, "asyncio"):
            parser.error("--bus and --loop uvloop need --reactor asyncio")
        args.reactor = "asyncio"
    return args


def main():
    args = parse_args()
    install_reactor(args.reactor, args.loop)

    # Imported after the reactor is installed.
    from autobahn.twisted.resource import WebSocketResource
    from autobahn.twisted.websocket import (
        ConnectionDeny,
        WebSocketServerFactory,
        WebSocketServerProtocol,
    )
    from twisted.internet import defer, reactor
    from twisted.internet.task import LoopingCall
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    class Hub:
        """Counters, open connections and broadcast rooms."""

        def __init__(self):
            self.connections_total = 0
            self.messages_in = 0
            self.messages_out = 0
            self.bytes_in = 0
            self.bytes_out = 0
            self.protocols = set()
            self.rooms = {}  # room name -> dict of protocols (ordered)
            self.idle = None  # Deferred fired when protocols empties
            self.room_stats = scaleout.Rooms()
            self.bus = None  # a scaleout.RedisBus with --bus
            self.info = {}

        def stats(self):
            stats = {
                "connections_total": self.connections_total,
                "connections_open": len(self.protocols),
                "messages_in": self.messages_in,
                "messages_out": self.messages_out,
                "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out,
            }
            stats.update(self.room_stats.totals())
            if self.bus is not None:
                stats.update(self.bus.stats())
            return stats

        def deliver(self, room, payload, isBinary):
            """Sends a room's message to this process's members of it."""
            # sendMessage writes to the transport synchronously, so every
            # member gets the room's messages in the order received (from
            # the room's members here, or from the bus).
            sent = 0
            for member in list(self.rooms.get(room, ())):
                sent += member.send(payload, isBinary)
            self.room_stats.delivered(room, sent)

        def deliver_from_bus(self, room, message):
            if isinstance(message, str):
                self.deliver(room, message.encode("utf-8"), False)
            else:
                self.deliver(room, message, True)

        def opened(self, protocol):
            self.connections_total += 1
            self.protocols.add(protocol)

        def closed(self, protocol):
            self.protocols.discard(protocol)
            if not self.protocols and self.idle is not None:
                idle, self.idle = self.idle, None
                idle.callback(None)

        def shutdown(self, port):
            """Stops listening, closes every connection with 1001 and waits
            briefly for the closing handshakes."""
            stopped = defer.maybeDeferred(port.stopListening)
            if not self.protocols:
                return stopped
            self.idle = defer.Deferred()
            for protocol in list(self.protocols):
                protocol.sendCloseFrame(code=1001, reasonUtf8=b"server shutting down")
            self.idle.addTimeout(SHUTDOWN_GRACE, reactor)
            self.idle.addErrback(lambda _: None)  # timed out: exit anyway
            return defer.gatherResults([stopped, self.idle])

    hub = Hub()

    class TargetProtocol(WebSocketServerProtocol):
        """Base for the WebSocket endpoints: counting and registration."""

        def onOpen(self):
            hub.opened(self)

        def onClose(self, wasClean, code, reason):
            # Also called for connections that never opened; closed() copes.
            hub.closed(self)

        def onMessage(self, payload, isBinary):
            hub.messages_in += 1
            hub.bytes_in += len(payload)
            self.handle(payload, isBinary)

        def handle(self, payload, isBinary):
            """Handles one data message; the base class ignores it."""

        def send(self, payload, isBinary):
            """Sends a message; returns 1 if it was sent, 0 if not."""
            if self.state != self.STATE_OPEN:
                return 0  # sendMessage would drop it silently
            self.sendMessage(payload, isBinary)
            hub.messages_out += 1
            hub.bytes_out += len(payload)
            return 1

        def onAutoPingTimeout(self):
            # Autobahn drops the TCP connection here; the contract wants a
            # 1011 close frame. closeHandshakeTimeout still bounds the wait
            # for the client's answer.
            self.autoPingTimeoutCall = None
            self.sendCloseFrame(code=1011, reasonUtf8=b"ping timeout")

    class EchoProtocol(TargetProtocol):
        def handle(self, payload, isBinary):
            self.send(payload, isBinary)

    class BroadcastProtocol(TargetProtocol):
        def onConnect(self, request):
            self.room = request.params.get("room", ["default"])[0]

        def onOpen(self):
            super().onOpen()
            hub.rooms.setdefault(self.room, {})[self] = None
            hub.room_stats.joined(self.room)

        def onClose(self, wasClean, code, reason):
            super().onClose(wasClean, code, reason)
            members = hub.rooms.get(getattr(self, "room", None))
            if members is not None and self in members:
                members.pop(self)
                hub.room_stats.left(self.room)
                if not members:
                    del hub.rooms[self.room]

        def handle(self, payload, isBinary):
            hub.room_stats.published(self.room)
            if hub.bus is not None:
                # Delivered when it comes back from the bus; the bus keeps
                # text as text (Autobahn has validated it as UTF-8).
                hub.bus.publish(self.room, payload if isBinary else payload.decode("utf-8"))
            else:
                hub.deliver(self.room, payload, isBinary)

    class PushProtocol(TargetProtocol):
        loop = None

        def onConnect(self, request):
            try:
                self.rate, self.size, self.count = parse_push_args(request.params)
            except ValueError as exc:
                raise ConnectionDeny(400, str(exc)) from exc

        def onOpen(self):
            super().onOpen()
            self.seq = 0
            self.start = reactor.seconds()
            # LoopingCall provides the cadence; tick() works out from the
            # absolute schedule how many messages are due, so a late call
            # sends every message that has come due and none is skipped.
            self.loop = LoopingCall(self.tick)
            self.loop.clock = reactor
            self.loop.start(1.0 / self.rate, now=True)

        def tick(self):
            due = int((reactor.seconds() - self.start) * self.rate + 1e-9) + 1
            if self.count is not None:
                due = min(due, self.count)
            while self.seq < due:
                self.send(push_message(self.seq, self.size), False)
                self.seq += 1
            if self.seq == self.count:
                self.loop.stop()

        def onClose(self, wasClean, code, reason):
            super().onClose(wasClean, code, reason)
            if self.loop is not None and self.loop.running:
                self.loop.stop()

    class ReactorTimer:
        """Autobahn's timer interface (txaio IBatchedTimer.call_later) on
        plain reactor.callLater: exact deadlines, no batching."""

        class Call:
            def __init__(self, delayed_call):
                self.delayed_call = delayed_call

            def cancel(self):
                if self.delayed_call.active():
                    self.delayed_call.cancel()

        def call_later(self, delay, func, *args, **kwargs):
            return self.Call(reactor.callLater(delay, func, *args, **kwargs))

    class TargetFactory(WebSocketServerFactory):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._batched_timer = ReactorTimer()  # see the module docstring

    def websocket_resource(protocol):
        factory = TargetFactory()
        factory.protocol = protocol
        factory.setProtocolOptions(
            autoPingInterval=args.ping_interval,
            autoPingTimeout=args.ping_timeout,
            maxMessagePayloadSize=args.max_message_size,
            maxFramePayloadSize=args.max_message_size,
            failByDrop=False,
            echoCloseCodeReason=True,
            closeHandshakeTimeout=SHUTDOWN_GRACE,
        )
        return WebSocketResource(factory)

    class Healthz(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"text/plain")
            return b"ok"

    class Stats(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps(hub.stats()).encode()

    class RoomStats(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps(hub.room_stats.rooms).encode()

    class Info(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps(hub.info).encode()

    class StatsRoot(Stats):
        isLeaf = False

        def getChild(self, path, request):
            if path == b"rooms":
                return RoomStats()
            if path == b"":
                return self
            return Resource.getChild(self, path, request)

    root = Resource()
    root.putChild(b"healthz", Healthz())
    root.putChild(b"stats", StatsRoot())
    root.putChild(b"info", Info())
    root.putChild(b"echo", websocket_resource(EchoProtocol))
    root.putChild(b"broadcast", websocket_resource(BroadcastProtocol))
    root.putChild(b"push", websocket_resource(PushProtocol))

    def loop_name():
        name = scaleout.describe(type(reactor))
        if args.reactor == "asyncio":
            name += " on " + scaleout.describe(type(reactor._asyncioEventloop))
        return name

    host, _, port = args.addr.rpartition(":")
    host = host.strip("[]")
    # Twisted's listen backlog defaults to 50, below Tornado's 128 and
    # asyncio's 100; under connection churn that default alone shows up as
    # SYN retransmits, so the comparison would measure a setting, not the
    # framework. 128 matches Tornado and the kernel's usual somaxconn floor.
    listener = reactor.listenTCP(int(port), Site(root), backlog=128, interface=host)
    # reactor.run() turns SIGTERM and SIGINT into reactor.stop(), which runs
    # the "before shutdown" triggers and waits for their Deferreds.
    reactor.addSystemEventTrigger("before", "shutdown", hub.shutdown, listener)

    bound = listener.getHost()
    addr = ("[%s]:%d" if ":" in bound.host else "%s:%d") % (bound.host, bound.port)
    # Starting Twisted logging redirects sys.stdout into the log, so keep
    # the real stdout for the LISTENING line.
    stdout = sys.stdout

    def announce():
        import autobahn
        import twisted
        version = "Twisted %s, Autobahn %s" % (twisted.__version__, autobahn.__version__)
        hub.info = scaleout.info("twisted", version, loop_name(), hub.bus, args.accel)
        print("LISTENING " + addr, file=stdout, flush=True)

    def start():
        if not args.bus:
            announce()
            return
        # The bus is subscribed before LISTENING, so before any client
        # connects. The asyncio reactor runs the asyncio loop the bus's
        # tasks live on.
        hub.bus = scaleout.RedisBus(args.bus, hub.deliver_from_bus, scaleout.fatal)
        started = defer.Deferred.fromFuture(asyncio.ensure_future(hub.bus.start()))
        started.addCallbacks(lambda _: announce(),
                             lambda failure: scaleout.fatal("bus: %s" % failure.getErrorMessage()))

    def close_bus():
        if hub.bus is not None:
            return defer.Deferred.fromFuture(asyncio.ensure_future(hub.bus.close()))
        return None

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("during", "shutdown", close_bus)
    txaio.start_logging(out=sys.stderr, level="error")
    reactor.run()


if __name__ == "__main__":
    main()
