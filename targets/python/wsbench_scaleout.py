"""Scale-out support shared by the Python targets (targets/CONTRACT.md,
"Scaled-out targets").

  * --accel off switches a framework's C speedups off. Every framework
    picks its speedups when it is first imported, so early_options() reads
    the flag from sys.argv and apply_accel() acts before the server file
    imports its framework.
  * --loop uvloop runs asyncio on uvloop (Debian's python3-uvloop) instead
    of the default selector loop.
  * --bus redis://HOST:PORT bridges broadcast rooms across processes
    through Redis pub/sub (Debian's python3-redis, redis.asyncio).
  * Rooms keeps the per-room counters of GET /stats/rooms, and info()
    builds GET /info: what the process really runs, read from the loaded
    modules (the loop's class, which mask and UTF-8 functions the framework
    calls), not from the flags that asked for it.

Only the standard library is imported at module level: redis and uvloop
are imported when asked for, so a target without --bus or --loop uvloop
runs without those packages.
"""

import argparse
import asyncio
import os
import platform
import sys

BUS_PREFIX = b"wsbench:room:"
TEXT, BINARY = b"t", b"b"


def early_options(argv=None):
    """Parses --loop and --accel from argv (default sys.argv) before the
    framework is imported; the server's own parser parses them again."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--loop", default="asyncio")
    parser.add_argument("--accel", default="auto")
    opts, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    return opts


def add_arguments(parser, loop=True):
    """Adds the scale-out flags to a server's argument parser."""
    parser.add_argument("--bus", default="",
                        help="redis://HOST:PORT: bridge broadcast rooms through Redis pub/sub "
                             "(default: rooms are local to this process)")
    if loop:
        parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio",
                            help="asyncio event loop implementation (default: asyncio's own)")
    parser.add_argument("--accel", choices=["auto", "off"], default="auto",
                        help="off: the framework's pure-Python code instead of its C speedups")


def apply_accel(framework, accel):
    """Switches the framework's C speedups off before it is imported
    (accel "off"); "auto" leaves the framework's own choice."""
    if accel != "off":
        return
    if framework == "tornado":
        os.environ["TORNADO_EXTENSION"] = "0"  # tornado.util reads it at import
    elif framework == "aiohttp":
        os.environ["AIOHTTP_NO_EXTENSIONS"] = "1"  # aiohttp.helpers reads it at import
    elif framework == "twisted":
        # Autobahn uses wsaccel's Cython UTF-8 validator and XOR masker when
        # "import wsaccel..." succeeds; a None entry makes that import fail.
        for name in ("wsaccel", "wsaccel.utf8validator", "wsaccel.xormask"):
            sys.modules[name] = None
    elif framework == "websockets":
        for name in ("websockets.speedups",):
            sys.modules[name] = None


def install_loop(name):
    """Makes asyncio create uvloop loops (name "uvloop"); must run before
    the server's loop is created."""
    if name == "uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def describe(obj):
    """module.qualname of a class or function."""
    return "%s.%s" % (getattr(obj, "__module__", "?"), getattr(obj, "__qualname__", type(obj).__name__))


def compiled(func):
    """Whether a function is compiled code (C, Cython) rather than Python."""
    return not hasattr(func, "__code__")


def accelerations(framework):
    """Which implementation the framework really calls for its hot paths,
    as {name: "C (module.function)" or "Python (module.function)"}."""
    found = {}

    def note(name, func):
        found[name] = "%s (%s)" % ("C" if compiled(func) else "Python", describe(func))

    if framework == "tornado":
        import tornado.websocket
        note("websocket_mask", tornado.websocket._websocket_mask)
    elif framework == "websockets":
        import websockets.legacy.framing
        note("websocket_mask", websockets.legacy.framing.apply_mask)
    elif framework == "aiohttp":
        import aiohttp.http_websocket
        import aiohttp.web_protocol
        note("websocket_mask", aiohttp.http_websocket._websocket_mask)
        parser = aiohttp.web_protocol.HttpRequestParser
        found["http_parser"] = "%s (%s)" % (
            "C" if parser.__module__.endswith("._http_parser") else "Python", describe(parser))
    elif framework == "twisted":
        import autobahn.websocket.protocol as protocol
        validator = protocol.Utf8Validator
        found["utf8_validator"] = "%s (%s)" % (
            "C" if validator.__module__.startswith("wsaccel") else "Python", describe(validator))
        note("xor_masker", protocol.create_xor_masker)
    return found


def loop_name():
    """The class of the running asyncio loop, e.g. uvloop.Loop."""
    return describe(type(asyncio.get_running_loop()))


def info(framework, version, loop, bus, accel):
    """GET /info: a flat JSON object of strings (targets/CONTRACT.md)."""
    doc = {
        "framework": framework,
        "framework_version": version,
        "python": platform.python_version(),
        "pid": str(os.getpid()),
        "loop": loop,
        "bus": bus.describe() if bus is not None else "none (rooms are local to this process)",
        "accel_requested": accel,
    }
    for name, impl in sorted(accelerations(framework).items()):
        doc["accel." + name] = impl
    return doc


class Rooms:
    """Per-room counters for GET /stats/rooms: members now and at most,
    publishes received from this process's clients ("in") and deliveries
    to this process's members ("out"). They outlive the room itself, so a
    finished run can still be accounted."""

    def __init__(self):
        self.rooms = {}

    def room(self, name):
        r = self.rooms.get(name)
        if r is None:
            r = self.rooms[name] = {"members": 0, "members_peak": 0, "in": 0, "out": 0}
        return r

    def joined(self, name):
        r = self.room(name)
        r["members"] += 1
        r["members_peak"] = max(r["members_peak"], r["members"])

    def left(self, name):
        self.room(name)["members"] -= 1

    def published(self, name):
        self.room(name)["in"] += 1

    def delivered(self, name, n):
        self.room(name)["out"] += n

    def totals(self):
        """broadcast_in and broadcast_out over every room, for /stats."""
        return {
            "broadcast_in": sum(r["in"] for r in self.rooms.values()),
            "broadcast_out": sum(r["out"] for r in self.rooms.values()),
        }


class RedisBus:
    """Bridges broadcast rooms across processes through Redis pub/sub.

    A message a member sends is published on channel "wsbench:room:ROOM";
    every process subscribes to the pattern "wsbench:room:*" once at start
    and hands what arrives to deliver(room, message), which sends it to its
    own members of that room. The publishing process gets its message back
    the same way rather than delivering it at once, so every member of a
    room, on any process, sees the room's messages in the one order Redis
    published them in. Subscribing to the pattern before the first client
    connects means no room can miss a message while a subscription is on
    its way.

    publish() does not await: it queues, and one writer task sends what
    has queued as a pipeline, so a process publishes in the order its
    clients' messages arrived. The first byte of a bus message says text
    (t) or binary (b), so the opcode survives the trip.

    If Redis goes away the bus cannot keep the contract's promise never to
    drop a message silently for a member it keeps, so on_failure (the
    server's fatal-error handler) is called.
    """

    def __init__(self, url, deliver, on_failure):
        self.url = url
        self.deliver = deliver
        self.on_failure = on_failure
        self.published = 0
        self.received = 0
        self.queue = []
        self.tasks = []
        self.wakeup = None
        self.redis_version = "?"

    def describe(self):
        import redis
        return "redis pub/sub at %s (Redis %s, redis-py %s)" % (self.url, self.redis_version, redis.__version__)

    async def start(self):
        """Connects, subscribes and starts the reader and writer; returns
        once the subscription is confirmed."""
        import redis.asyncio as aioredis
        self.wakeup = asyncio.Event()
        self.pub = aioredis.from_url(self.url)
        self.sub = aioredis.from_url(self.url)
        server = await self.pub.info("server")
        self.redis_version = server.get("redis_version", "?")
        self.pubsub = self.sub.pubsub()
        await self.pubsub.psubscribe(BUS_PREFIX + b"*")
        while True:  # the subscription's confirmation
            msg = await self.pubsub.get_message(timeout=5.0)
            if msg is None:
                raise RuntimeError("no psubscribe confirmation from %s" % self.url)
            if msg["type"] == "psubscribe":
                break
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._guard(self._read())),
                      loop.create_task(self._guard(self._write()))]

    def publish(self, room, message):
        if isinstance(message, str):
            payload = TEXT + message.encode("utf-8")
        else:
            payload = BINARY + bytes(message)
        self.queue.append((BUS_PREFIX + room.encode("utf-8"), payload))
        self.wakeup.set()

    async def _write(self):
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            batch, self.queue = self.queue, []
            if not batch:
                continue
            pipe = self.pub.pipeline(transaction=False)
            for channel, payload in batch:
                pipe.publish(channel, payload)
            await pipe.execute()
            self.published += len(batch)

    async def _read(self):
        skip = len(BUS_PREFIX)
        async for msg in self.pubsub.listen():
            if msg["type"] != "pmessage":
                continue
            room = msg["channel"][skip:].decode("utf-8")
            data = msg["data"]
            message = data[1:].decode("utf-8") if data[:1] == TEXT else data[1:]
            self.received += 1
            self.deliver(room, message)
        raise RuntimeError("the Redis subscription ended")

    async def _guard(self, coro):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure ends the bus
            self.on_failure("bus: %s: %r" % (self.url, exc))

    def stats(self):
        return {"bus_published": self.published, "bus_received": self.received}

    async def close(self):
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            try:
                await task
            except BaseException:  # noqa: BLE001 - cancelled or failed: closing anyway
                pass
        try:
            await self.pubsub.close()
            await self.sub.close()
            await self.pub.close()
        except Exception:  # noqa: BLE001 - Redis may be gone already
            pass


def fatal(message):
    """Ends the process at once with status 1 after saying why on stderr:
    for failures (the bus lost) after which the target would break the
    contract. wsbench sees the process exit and says so in the report."""
    print("FATAL %s" % message, file=sys.stderr, flush=True)
    os._exit(1)
