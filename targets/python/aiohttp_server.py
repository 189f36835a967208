#!/usr/bin/python3
"""wsbench target server on aiohttp (web.Application + WebSocketResponse).

Implements targets/CONTRACT.md: /healthz, /stats, /echo, /broadcast?room=R
and /push?rate=N&size=B&count=C, server pings, close codes 1009, 1007, 1011
and 1001. WebSocketResponse's heartbeat sends the pings and max_msg_size
enforces the limit (1009); aiohttp closes invalid UTF-8 with 1007 itself.
Shutdown follows aiohttp's documented pattern: an on_shutdown handler closes
every open WebSocket with 1001 (GOING_AWAY).

Adjustments to aiohttp 3.8:
  * the heartbeat waits heartbeat/2 for a pong and then drops TCP without a
    close frame (1006). ContractWebSocketResponse waits --ping-timeout and
    fails the connection through aiohttp's own protocol-error path, which
    sends a 1011 close frame.
  * with autoclose=True aiohttp answers a client's close frame with 1000;
    the handlers use autoclose=False and echo the client's code.
  * max_msg_size rejects messages of exactly that size (the check is >=),
    so it is set to --max-message-size + 1.
  * when on_shutdown's close() (from another task) wakes the handler's
    receive() with CLOSING, the handler returning would let aiohttp close
    the response with 1000 before that close() resumes; the handler closes
    with 1001 itself, and whichever close() runs first sends the frame.
  * the heartbeat is an idle timer: aiohttp restarts it whenever a frame
    arrives, so a busy connection gets no pings. That is aiohttp's design
    and is kept.

Scale-out (see wsbench_scaleout.py): --bus redis://HOST:PORT bridges
broadcast rooms through Redis pub/sub, --loop uvloop runs on uvloop, --accel
off sets AIOHTTP_NO_EXTENSIONS, which replaces aiohttp's C HTTP parser and
Cython WebSocket mask with their Python versions.

Usage: aiohttp_server.py [--addr HOST:PORT] [--ping-interval S]
                         [--ping-timeout S] [--max-message-size BYTES]
                         [--bus redis://HOST:PORT] [--loop asyncio|uvloop]
                         [--accel auto|off]
"""

import argparse
import asyncio
import signal
import time

import wsbench_scaleout as scaleout

# aiohttp picks its C extensions when it is imported: decide first.
scaleout.apply_accel("aiohttp", scaleout.early_options().accel)

import aiohttp  # noqa: E402 - after apply_accel, on purpose
from aiohttp import WSCloseCode, WSMsgType, web  # noqa: E402
from aiohttp.http_websocket import WebSocketError  # noqa: E402

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
    """Parses rate, size and count from the request's query."""
    rate = float(query.get("rate", "10"))
    size = int(query.get("size", "64"))
    count = query.get("count")
    count = None if count is None else int(count)
    if not 0 < rate <= MAX_PUSH_RATE:
        raise ValueError("rate must be in (0, %d]" % MAX_PUSH_RATE)
    if size < 0 or (count is not None and count < 0):
        raise ValueError("size and count must not be negative")
    return rate, size, count


class ContractWebSocketResponse(web.WebSocketResponse):
    """WebSocketResponse whose heartbeat waits ping_timeout for a pong and
    then closes with 1011 (see the module docstring)."""

    def __init__(self, *, ping_timeout, **kwargs):
        super().__init__(**kwargs)
        if ping_timeout and self._heartbeat is not None:
            self._pong_heartbeat = ping_timeout  # aiohttp: heartbeat / 2
        elif not ping_timeout:
            self._pong_heartbeat = float("inf")  # 0: never time out

    def _pong_not_received(self):
        # aiohttp closes the transport here. Fail the reader instead, like
        # aiohttp's parser does on a protocol error: receive() then sends a
        # close frame with the error's code and ends the handler's loop.
        if self._reader is not None and not self.closed:
            self._reader.set_exception(
                WebSocketError(WSCloseCode.INTERNAL_ERROR, "ping timeout"))


class Target:
    """The application's handlers, counters and broadcast rooms."""

    def __init__(self, args):
        self.args = args
        self.connections_total = 0
        self.messages_in = 0
        self.messages_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.websockets = set()
        self.rooms = {}  # room name -> {WebSocketResponse: asyncio.Queue}
        self.room_stats = scaleout.Rooms()
        self.bus = None  # a scaleout.RedisBus with --bus
        self.info_doc = {}

    def app(self):
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/stats", self.stats)
        app.router.add_get("/stats/rooms", self.stats_rooms)
        app.router.add_get("/info", self.info)
        app.router.add_get("/echo", self.echo)
        app.router.add_get("/broadcast", self.broadcast)
        app.router.add_get("/push", self.push)
        app.on_shutdown.append(self.close_all)
        return app

    async def healthz(self, request):
        return web.Response(text="ok")

    async def stats(self, request):
        stats = {
            "connections_total": self.connections_total,
            "connections_open": len(self.websockets),
            "messages_in": self.messages_in,
            "messages_out": self.messages_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }
        stats.update(self.room_stats.totals())
        if self.bus is not None:
            stats.update(self.bus.stats())
        return web.json_response(stats)

    async def stats_rooms(self, request):
        return web.json_response(self.room_stats.rooms)

    async def info(self, request):
        return web.json_response(self.info_doc)

    async def upgrade(self, request):
        ws = ContractWebSocketResponse(
            heartbeat=self.args.ping_interval or None,
            ping_timeout=self.args.ping_timeout,
            max_msg_size=self.args.max_message_size + 1,  # exclusive limit
            autoclose=False,  # we echo the client's close code ourselves
            compress=False,  # like the other targets
            timeout=SHUTDOWN_GRACE,  # how long close() waits for the answer
        )
        await ws.prepare(request)
        self.connections_total += 1
        self.websockets.add(ws)
        return ws

    async def receive_loop(self, ws, on_message):
        """Reads until the connection ends, passing data messages on."""
        try:
            while True:
                msg = await ws.receive()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.messages_in += 1
                    self.bytes_in += text_len(msg.data)
                    try:
                        await on_message(msg.data)
                    except ConnectionResetError:
                        return  # the connection is going away
                elif msg.type == WSMsgType.CLOSE:
                    # Echo the client's code (RFC 6455 5.5.1); msg.data is 0
                    # when the close frame had none.
                    await ws.close(code=msg.data or WSCloseCode.OK)
                    return
                elif msg.type == WSMsgType.CLOSING:
                    # close_all is closing this connection from another task
                    # (see the module docstring).
                    await ws.close(code=WSCloseCode.GOING_AWAY)
                    return
                else:
                    # CLOSED, ERROR: aiohttp has already sent the close
                    # frame (1009, 1007, 1011) or the connection is gone.
                    return
        finally:
            self.websockets.discard(ws)

    async def send(self, ws, data):
        if isinstance(data, str):
            await ws.send_str(data)
        else:
            await ws.send_bytes(data)
        self.messages_out += 1
        self.bytes_out += text_len(data)

    async def echo(self, request):
        ws = await self.upgrade(request)
        await self.receive_loop(ws, lambda data: self.send(ws, data))
        return ws

    async def broadcast(self, request):
        room_name = request.query.get("room", "default")
        ws = await self.upgrade(request)
        # Each member has a queue and a writer task. A message is put on
        # every member's queue at once, without awaiting, so all members get
        # the room's messages in the order they were received, and a slow
        # member delays only itself.
        queue = asyncio.Queue()
        room = self.rooms.setdefault(room_name, {})
        room[ws] = queue
        self.room_stats.joined(room_name)
        writer = asyncio.create_task(self.drain(ws, queue, room_name))

        async def publish(data):
            self.room_stats.published(room_name)
            if self.bus is not None:
                self.bus.publish(room_name, data)  # delivered when it comes back
            else:
                self.deliver(room_name, data)

        try:
            await self.receive_loop(ws, publish)
        finally:
            del room[ws]
            self.room_stats.left(room_name)
            if not room:
                del self.rooms[room_name]
            writer.cancel()
        return ws

    def deliver(self, room_name, data):
        """Queues a room's message for this process's members of the room,
        all at once without awaiting (see broadcast)."""
        for member_queue in self.rooms.get(room_name, {}).values():
            member_queue.put_nowait(data)

    async def drain(self, ws, queue, room_name):
        try:
            while True:
                await self.send(ws, await queue.get())
                self.room_stats.delivered(room_name, 1)
        except ConnectionResetError:
            pass  # closing; the receive loop ends the connection

    async def push(self, request):
        try:
            rate, size, count = parse_push_args(request.query)
        except ValueError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        ws = await self.upgrade(request)
        sender = asyncio.create_task(self.push_loop(ws, rate, size, count))

        async def ignore(data):
            pass  # counted by receive_loop, otherwise ignored

        try:
            # The receive loop also processes pongs and the close frame.
            await self.receive_loop(ws, ignore)
        finally:
            sender.cancel()
        return ws

    async def push_loop(self, ws, rate, size, count):
        """Sends on an absolute schedule: message i is due at start + i/rate."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        seq = 0
        try:
            while count is None or seq < count:
                delay = start + seq / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                # send_str waits when the write buffer is full, so a slow
                # client holds the sender back; the absolute schedule then
                # catches up without skipping any seq.
                await self.send(ws, push_message(seq, size))
                seq += 1
        except ConnectionResetError:
            pass

    async def close_all(self, app):
        """on_shutdown: close every WebSocket with 1001."""
        await asyncio.gather(*(
            ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")
            for ws in set(self.websockets)
        ), return_exceptions=True)


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


async def main(args):
    host, _, port = args.addr.rpartition(":")
    target = Target(args)
    if args.bus:
        # Subscribed before the first client can connect.
        target.bus = scaleout.RedisBus(args.bus, target.deliver, scaleout.fatal)
        await target.bus.start()
    target.info_doc = scaleout.info("aiohttp", aiohttp.__version__, scaleout.loop_name(), target.bus, args.accel)
    runner = web.AppRunner(target.app(), handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]"), int(port), shutdown_timeout=SHUTDOWN_GRACE)
    await site.start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("LISTENING %s" % format_addr(runner.addresses[0]), flush=True)
    await stop.wait()
    # Stops listening, runs on_shutdown (1001 to every WebSocket), then
    # waits up to shutdown_timeout for the handlers to finish.
    await runner.cleanup()
    if target.bus is not None:
        await target.bus.close()


if __name__ == "__main__":
    ARGS = parse_args()
    scaleout.install_loop(ARGS.loop)  # asyncio.run creates its loop from the policy
    asyncio.run(main(ARGS))
