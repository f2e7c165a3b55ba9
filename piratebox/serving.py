"""Serving the box with waitress, guarded so that one phone cannot take it down.

waitress decides about connections and bodies before the app sees a request: it keeps a
connection while bytes trickle in, and it buffers a whole request body on the data disk
before the app can refuse it. The channel and parser below, given to waitress's server
in place of its own, decide earlier:

- a phone's address holds at most CONNECTIONS_PER_ADDRESS connections;
- a request's line and headers must have arrived REQUEST_HEADER_SECONDS after the
  connection was ready for one (just opened, or its last answer sent); a body must bring
  REQUEST_BODY_MIN_RATE bytes a second, measured over spans of the same length;
- a body is refused at the headers when its declared length is more than its URL
  accepts (piratebox/bodies.py) or than the data disk holds above the reserve, counting
  the copy the app makes of it and the bodies already on their way; a chunked body is
  counted as it arrives. The app answers with its own error page; what the phone goes on
  sending is read and thrown away for a while, so that it sees that page; then the
  connection closes.

The free space a body needs: waitress keeps the whole body in a temporary file until it
is complete, then the form parser copies each file into its own file; the first is
deleted with the request. While it travels, an upload needs twice its size (COPIES).
waitress gives an app no body before it is complete, so the copy stays: streaming the
parts from the server's loop would be a second multipart parser beside Werkzeug's.
"""

import errno
import functools
import logging
import resource
import socket
import threading
import time
from collections import Counter

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import WSGITask

from piratebox import bodies
from piratebox.files.upload import COPIES, MAX_FILES_PER_UPLOAD, DiskFull
from piratebox.i18n import N_, Translator

log = logging.getLogger("piratebox.serving")

# Bodies up to this size stay in memory; a larger one goes to a temporary file, and only
# those are weighed against the disk. 200 connections x 64 KB is what a router can spare.
IN_MEMORY_BODY = 64 * 1024
# A refused body: how long the rest is read and thrown away after the answer is sent.
DISCARD_SECONDS = 30
CHUNKED_STEP = 4 * 1024 * 1024
# A phone may buffer this many large bodies at once (a file share upload, a photo form).
DISK_BODIES_PER_ADDRESS = 2
# What one connection may hold open: its socket, the body's temporary file, an answer's.
DESCRIPTORS_PER_CONNECTION = 3
DESCRIPTORS_BESIDES = 64  # database, logs, templates, the listening socket...

TOO_MANY_CONNECTIONS = N_("Too many connections from this phone: try again in a moment.")
LOG_EVERY = 60  # seconds: what was refused or cut is logged as one line a minute at most


class Guard:
    """What the connections share: how many each address holds, and the disk promised to
    the bodies on their way."""

    def __init__(self, gate, config):
        self.gate = gate
        self.per_address = config["CONNECTIONS_PER_ADDRESS"]
        self.header_seconds = config["REQUEST_HEADER_SECONDS"]
        self.body_min_rate = config["REQUEST_BODY_MIN_RATE"]
        text = Translator(config["DEFAULT_LANGUAGE"]).gettext(TOO_MANY_CONNECTIONS)
        self.busy_answer = plain_answer("429 Too Many Requests", text)
        self._lock = threading.Lock()
        self._connections = Counter()
        self._disk_bodies = Counter()
        self._promised = 0
        self.figures = Counter()  # what was refused or cut since it was last logged
        self._logged_at = time.monotonic()

    def open(self, address):
        with self._lock:
            refused = self._connections[address] >= self.per_address
            if not refused:
                self._connections[address] += 1
        if refused:
            self.count("connections turned away")
        return not refused

    def close(self, address):
        with self._lock:
            self._connections[address] -= 1
            if self._connections[address] <= 0:
                del self._connections[address]

    def promise(self, address, more, first):
        """Reserve `more` bytes of disk for a body; False when they are not there."""
        room = self.gate.room()
        with self._lock:
            if first and self._disk_bodies[address] >= DISK_BODIES_PER_ADDRESS:
                return False
            if self._promised + more > room:
                return False
            self._promised += more
            if first:
                self._disk_bodies[address] += 1
            return True

    def release(self, address, promised):
        with self._lock:
            self._promised -= promised
            self._disk_bodies[address] -= 1
            if self._disk_bodies[address] <= 0:
                del self._disk_bodies[address]

    def count(self, what):
        with self._lock:
            self.figures[what] += 1
            if time.monotonic() - self._logged_at < LOG_EVERY:
                return
            figures, self.figures = dict(self.figures), Counter()
            self._logged_at = time.monotonic()
        log.warning("refused or cut in the last minutes: %s", figures)


def plain_answer(status, text):
    body = (text + "\n").encode("utf-8")
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\nRetry-After: 10\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "\r\n").encode("ascii") + body


class GuardedParser(HTTPRequestParser):
    """waitress's request parser, deciding about the body as soon as the headers are in."""

    refused = None  # the app's error to show instead of reading the body
    promised = 0  # bytes of disk this body holds a promise for
    checkpoint = None  # (time, body bytes) of the last look at the body's progress

    def __init__(self, adj, channel):
        super().__init__(adj)
        self.channel = channel
        self.rule = None

    def received(self, data):
        in_headers = not self.headers_finished
        try:
            consumed = super().received(data)
        except OSError as error:  # the temporary file met a full disk
            if error.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            self.refuse(DiskFull())
        if self.refused is None and not self.completed and self.body_rcv is not None:
            if in_headers:
                self.admit()
            else:
                self.weigh(self.body_bytes_received)
        if self.refused is not None:
            return len(data)  # the rest is thrown away by the channel
        return consumed

    def admit(self):
        """The headers are in, the body is not: may it come?"""
        gate = self.channel.guard.gate
        self.rule = gate.rule(self.command, self.path)
        self.checkpoint = (time.monotonic(), 0)
        refusal = gate.refusal(self.rule, self.headers.get("COOKIE"), self.channel.address)
        if refusal is not None:
            self.refuse(refusal)
        elif not self.chunked:
            self.weigh(self.content_length)

    def weigh(self, length):
        """Refuse a body over its URL's limit, or that the disk cannot take."""
        if length > self.rule.max_bytes:
            self.refuse(bodies.body_too_large(self.rule))
            return
        if length <= IN_MEMORY_BODY or COPIES * length <= self.promised:
            return
        # a chunked body's length is known only at its end: promised a step ahead
        needed = COPIES * (length + CHUNKED_STEP if self.chunked else length)
        if self.channel.guard.promise(self.channel.address, needed - self.promised,
                                      first=not self.promised):
            self.promised = needed
        else:
            self.refuse(DiskFull())

    def refuse(self, error):
        self.refused = error
        self.channel.guard.count(f"bodies refused ({error.status})")
        if self.body_rcv is not None:
            self.body_rcv.getbuf().close()
            self.body_rcv = None
        self.release()
        self.completed = True
        self.expect_continue = False  # never invite a body we refuse
        self.headers["CONTENT_LENGTH"] = "0"
        self.headers["CONNECTION"] = "close"
        self.channel.discard_the_rest()

    def release(self):
        if self.promised:
            self.channel.guard.release(self.channel.address, self.promised)
            self.promised = 0

    def close(self):
        super().close()
        self.release()


class GuardedTask(WSGITask):
    """Hands a refused body's error to the app, which shows its page."""

    def get_environment(self):
        environ = super().get_environment()
        if self.request.refused is not None:
            environ[bodies.REFUSED_KEY] = self.request.refused
        return environ


class GuardedChannel(HTTPChannel):
    task_class = GuardedTask

    counted = False
    discarding = False  # a body was refused: what follows it is not a request
    discard_until = None  # the answer is sent; reading and throwing away until then

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        self.guard = server.guard
        self.address = addr[0]
        self.parser_class = functools.partial(GuardedParser, channel=self)
        self.ready_since = time.monotonic()
        if self.guard.open(self.address):
            self.counted = True
        else:
            self.outbufs[-1].append(self.guard.busy_answer)
            self.total_outbufs_len += len(self.guard.busy_answer)
            self.close_when_flushed = True

    # --- deadlines, looked at on every turn of the server's loop (at least once a second)

    def readable(self):
        now = time.monotonic()
        if self.discard_until is not None:
            if now > self.discard_until:
                self.will_close = True
                return False
            return True
        if self.requests or self.total_outbufs_len or self.will_close \
                or self.close_when_flushed:
            self.ready_since = now  # busy on our side: the phone owes us nothing yet
        else:
            self.check_progress(now)
        return super().readable()

    def check_progress(self, now):
        guard = self.guard
        request = self.request
        if request is None or not request.headers_finished:
            if now - self.ready_since > guard.header_seconds:
                self.cut("headers too slow or idle")
            return
        if request.checkpoint is None or request.completed:
            return
        since, received = request.checkpoint
        if now - since >= guard.header_seconds:
            if request.body_bytes_received - received < guard.body_min_rate * (now - since):
                self.cut("body too slow")
            else:
                request.checkpoint = (now, request.body_bytes_received)

    def cut(self, reason):
        self.guard.count(reason)
        self.will_close = True

    # --- a refused body: answer, then read and throw away what follows, then close

    def discard_the_rest(self):
        self.discarding = True

    def received(self, data):
        if self.discarding:
            return True
        return super().received(data)

    def handle_close(self):
        # the refused request leaves `requests` only once its answer is written
        if (self.discarding and self.discard_until is None and not self.requests
                and self.connected and not self.total_outbufs_len):
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is complete
            except OSError:
                pass
            else:
                self.will_close = self.close_when_flushed = False
                self.discard_until = time.monotonic() + DISCARD_SECONDS
                return
        super().handle_close()

    def del_channel(self, map=None):
        super().del_channel(map)
        if self.request is not None:
            self.request.close()  # a body cut off half-way: its file and its promise
            self.request = None
        if self.counted:
            self.counted = False
            self.guard.close(self.address)


def serve(app, host, port, threads):
    """Serve `app` until interrupted, guarded as above."""
    make_server(app, host, port, threads).run()


def make_server(app, host, port, threads):
    """The guarded server, listening already (an OSError if the port cannot be had)."""
    config = app.config
    connections = fit_descriptors(config["CONNECTIONS"], threads)
    socket_map = {}
    server = create_server(
        app, map=socket_map, host=host, port=port, threads=threads, ident="piratebox",
        connection_limit=connections,
        # the last resort for a connection nobody reads from (the deadlines come first)
        channel_timeout=60,
        max_request_header_size=64 * 1024,
        max_request_body_size=bodies.largest(config) + 1,
        inbuf_overflow=IN_MEMORY_BODY,
        clear_untrusted_proxy_headers=True,
    )
    guard = Guard(bodies.Gate(app), config)
    for dispatcher in socket_map.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = GuardedChannel
            dispatcher.guard = guard
    return server


def fit_descriptors(connections, threads):
    """Make room for every connection's files under the process's descriptor limit, or
    take fewer connections: a server out of descriptors cannot even send an error page."""
    per_request = max(bodies.MAX_PHOTO_PARTS, MAX_FILES_PER_UPLOAD) + 4
    needed = connections * DESCRIPTORS_PER_CONNECTION + threads * per_request \
        + DESCRIPTORS_BESIDES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < needed:
        fitted = max(1, (soft - threads * per_request - DESCRIPTORS_BESIDES)
                     // DESCRIPTORS_PER_CONNECTION)
        log.warning("only %d open files allowed: taking %d connections at once, not %d",
                    soft, fitted, connections)
        return fitted
    return connections
