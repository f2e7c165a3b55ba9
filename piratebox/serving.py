"""Serving the box with waitress, guarded so that one phone cannot take it down.

waitress decides about connections, bodies and answers before and after the app sees a
request: it keeps a connection while bytes trickle in, buffers a whole request body on the
data disk before the app can refuse it, parses every request a phone sends in one go, and
lets a worker thread wait without end for a phone that does not read its answer. The
channel and parser below, given to waitress's server in place of its own, decide earlier:

- the server holds at most CONNECTIONS connections; a phone's address at most
  CONNECTIONS_PER_ADDRESS, a share that shrinks (to a browser's six) as more addresses
  connect. When the server is full, a newcomer takes the place of the oldest connection
  still waiting for a request, from the address holding the most;
- a request's line and headers must have arrived REQUEST_HEADER_SECONDS after the
  connection was ready for one (just opened, or its last answer sent); a body must come at
  REQUEST_BODY_MIN_RATE bytes a second on average from its headers on, after a grace of the
  same REQUEST_HEADER_SECONDS, so a large body has a deadline in proportion to its size;
- a connection has one request at a time: what a phone sends ahead is held, unread,
  until the answer before it has gone out; an answer waiting to be read must be taken at
  RESPONSE_MIN_RATE bytes a second, measured over spans of REQUEST_HEADER_SECONDS, or the
  connection closes (and a worker thread waiting on it is free at once);
- answers are never buffered on the disk: a file is sent from the file itself (ranges
  too, see piratebox/sending.py), and what the app generates is held in memory;
- a body is refused at the headers when its declared length is more than its URL
  accepts (piratebox/bodies.py) or than the data disk holds above the reserve, counting
  the copy the app makes of it and the bodies already on their way, and one address may
  hold at most a share of that room (spool.fits); a chunked body is counted as it
  arrives. The app answers with its own error page; what the phone goes on sending is read
  and thrown away for a while, so that it sees that page; then the connection closes.

The free space a body needs: waitress keeps the whole body in a temporary file until it
is complete, then the form parser copies each file into its own file; the first is
deleted with the request. While it travels, an upload needs twice its size (COPIES).
waitress gives an app no body before it is complete, so the copy stays: streaming the
parts from the server's loop would be a second multipart parser beside Werkzeug's.
"""

import contextlib
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
from piratebox.i18n import N_, Translator
from piratebox.portal import REACHED_KEY
from piratebox.spool import COPIES, DiskFull, fits
from piratebox.units import KB, MB

log = logging.getLogger("piratebox.serving")

# Bodies up to this size stay in memory; a larger one goes to a temporary file, and only
# those are weighed against the disk. 200 connections x 64 KB is what a router can spare.
IN_MEMORY_BODY = 64 * KB
# A refused body: how long the rest is read and thrown away after the answer is sent.
DISCARD_SECONDS = 30
CHUNKED_STEP = 4 * MB
# A phone may buffer this many large bodies at once (a file share upload, a photo form).
DISK_BODIES_PER_ADDRESS = 2
# What one connection may hold open: its socket, the body's temporary file, an answer's.
DESCRIPTORS_PER_CONNECTION = 3
DESCRIPTORS_BESIDES = 64  # database, logs, templates, the listening socket...
# However many addresses connect, each keeps what a browser opens to one site.
BROWSER_CONNECTIONS = 6
# Connections waitress may accept beyond CONNECTIONS: room to take a newcomer while the
# connection it replaces is being closed.
ROOM_TO_REPLACE = 8
# An answer is never buffered on the disk; a worker thread waits for the phone only past
# this much of a generated answer (pages are tens of KB; files are sent from the file).
ANSWER_IN_MEMORY = MB
NEVER = 2**62

TOO_MANY_CONNECTIONS = N_("Too many connections from this phone: try again in a moment.")
LOG_EVERY = 60  # seconds: what was refused or cut is logged as one line a minute at most


class Guard:
    """What the connections share: which are open from each address, and the disk promised
    to the bodies on their way. Under a lock: a body's promise is given back by the worker
    thread that served it."""

    def __init__(self, gate, config, capacity):
        self.gate = gate
        self.capacity = capacity
        self.per_address = config["CONNECTIONS_PER_ADDRESS"]
        self.header_seconds = config["REQUEST_HEADER_SECONDS"]
        self.body_min_rate = config["REQUEST_BODY_MIN_RATE"]
        self.reader_min_rate = config["RESPONSE_MIN_RATE"]
        text = Translator(config["DEFAULT_LANGUAGE"]).gettext(TOO_MANY_CONNECTIONS)
        self.busy_answer = plain_answer("429 Too Many Requests", text)
        self._lock = threading.Lock()
        self._open = {}  # address -> [channel]
        self._count = 0
        self._disk_bodies = Counter()
        self._promised_by = Counter()
        self._promised = 0
        self.figures = Counter()  # what was refused or cut since it was last logged
        self._logged_at = time.monotonic()

    def share(self, addresses):
        """How many connections one address may hold while `addresses` are connected."""
        fair = self.capacity // max(1, addresses)
        return min(self.per_address, max(BROWSER_CONNECTIONS, fair))

    def open(self, channel):
        """Count a new connection; False to turn it away (its address has its share, or
        the server is full of connections that are all busy)."""
        with self._lock:
            mine = self._open.get(channel.address, [])
            addresses = len(self._open) + (0 if mine else 1)
            refused = len(mine) >= self.share(addresses)
            if not refused and self._count >= self.capacity:
                victim = self._oldest_waiting()
                if victim is None:
                    refused = True
                else:
                    self._forget(victim)
                    victim.counted = False
                    victim.will_close = True
            if not refused:
                self._open.setdefault(channel.address, []).append(channel)
                self._count += 1
        if refused:
            self.count("connections turned away")
        return not refused

    def _oldest_waiting(self):
        """The connection that has waited longest for a request, from the address holding
        the most connections; None when every connection is busy."""
        waiting = [channel for channels in self._open.values() for channel in channels
                   if channel.waits_for_a_request()]
        if not waiting:
            return None
        victim = max(waiting, key=lambda channel: (len(self._open[channel.address]),
                                                   -channel.ready_since))
        self.count("waiting connections closed to make room")
        return victim

    def _forget(self, channel):
        channels = self._open.get(channel.address, [])
        if channel in channels:
            channels.remove(channel)
            self._count -= 1
        if not channels:
            self._open.pop(channel.address, None)

    def close(self, channel):
        with self._lock:
            self._forget(channel)

    def promise(self, address, more, first):
        """Reserve `more` bytes of disk for a body; False when they are not there, or when
        this address would hold more than its share of them."""
        room = self.gate.room()
        with self._lock:
            if first and self._disk_bodies[address] >= DISK_BODIES_PER_ADDRESS:
                return False
            own = self._promised_by[address]
            if not fits(room, self._promised - own, own + more):
                return False
            self._promised += more
            self._promised_by[address] += more
            if first:
                self._disk_bodies[address] += 1
            return True

    def release(self, address, promised):
        with self._lock:
            self._promised -= promised
            self._promised_by[address] -= promised
            if self._promised_by[address] <= 0:
                del self._promised_by[address]
            self._disk_bodies[address] -= 1
            if self._disk_bodies[address] <= 0:
                del self._disk_bodies[address]

    def count(self, what):
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
    body_since = None  # when the headers were in and the body could start

    def __init__(self, adj, channel):
        super().__init__(adj)
        self.channel = channel
        self.rule = None

    def received(self, data):
        channel = self.channel
        if channel.requests or channel.pipelined:
            # a request sent before the answer to the previous one went out: held unread,
            # so that a phone never has more than one request in the server at a time
            channel.pipelined += data
            return len(data)
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
        self.body_since = time.monotonic()
        refusal = gate.refusal(self.rule, self.headers.get("COOKIE"), self.channel.address)
        if refusal is not None:
            self.refuse(refusal)
        elif not self.chunked:
            self.weigh(self.content_length)

    def too_slow(self, now, guard):
        """Has the body fallen behind the rate a phone on the wifi really achieves?"""
        if self.body_since is None or self.completed:
            return False
        late = now - self.body_since - guard.header_seconds
        return late > 0 and self.body_bytes_received < guard.body_min_rate * late

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
    """Hands a refused body's error to the app, which shows its page, and tells the app
    which of the box's addresses the phone reached (to tell its own host names)."""

    def get_environment(self):
        environ = super().get_environment()
        environ[REACHED_KEY] = self.channel.reached_addresses
        if self.request.refused is not None:
            environ[bodies.REFUSED_KEY] = self.request.refused
        return environ


class GuardedChannel(HTTPChannel):
    task_class = GuardedTask

    counted = False
    discarding = False  # a body was refused: what follows it is not a request
    discard_until = None  # the answer is sent; reading and throwing away until then
    reader_checkpoint = None  # (time, bytes sent) of the last look at an answer's progress
    cut_off = False  # closed by a deadline; the server's loop must not poll it again

    def __init__(self, server, sock, addr, adj, map=None):
        super().__init__(server, sock, addr, adj, map)
        self.guard = server.guard
        self.address = addr[0]
        self.reached_addresses = reached_addresses(sock)
        self.parser_class = functools.partial(GuardedParser, channel=self)
        self.ready_since = time.monotonic()
        self.pipelined = b""
        self.sent = 0
        if self.guard.open(self):
            self.counted = True
        else:
            self.outbufs[-1].append(self.guard.busy_answer)
            self.total_outbufs_len += len(self.guard.busy_answer)
            self.close_when_flushed = True

    def waits_for_a_request(self):
        """Idle, or still receiving a request's line and headers: nothing of ours is owed."""
        return not (self.requests or self.total_outbufs_len or self.will_close
                    or self.close_when_flushed or self.discarding or self.pipelined
                    or (self.request is not None and self.request.headers_finished))

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
            self.check_reader(now)
        elif self.pipelined:  # the answer before it is out: the next request's turn
            held, self.pipelined = self.pipelined, b""
            self.received(held)
        else:
            self.check_progress(now)
        return not self.cut_off and super().readable()

    def writable(self):
        if self.cut_off:
            return False
        if self.requests and not (self.will_close or self.close_when_flushed):
            # A task is writing its answer. Waitress sends from here only when it can take
            # the buffer's lock without waiting: while the task holds it, a writable socket
            # would turn the loop again and again for nothing, taking the interpreter from
            # the very threads that answer (measured: 12,000 turns a second, a tenth of the
            # answers under 50 phones). The task wakes the loop when it ends, and whenever
            # it leaves output it could not send itself.
            if not self.outbuf_lock.acquire(blocking=False):
                return False
            self.outbuf_lock.release()
        return super().writable()

    def check_progress(self, now):
        request = self.request
        if request is None or not request.headers_finished:
            if now - self.ready_since > self.guard.header_seconds:
                self.cut("headers too slow or idle")
        elif request.too_slow(now, self.guard):
            self.cut("body too slow")

    def check_reader(self, now):
        """An answer waiting for the phone must be taken at RESPONSE_MIN_RATE."""
        if not self.total_outbufs_len or self.will_close:
            self.reader_checkpoint = None
            return
        if self.reader_checkpoint is None:
            self.reader_checkpoint = (now, self.sent)
            return
        since, sent = self.reader_checkpoint
        if now - since >= self.guard.header_seconds:
            if self.sent - sent < self.guard.reader_min_rate * (now - since):
                self.cut("answer not read")
            else:
                self.reader_checkpoint = (now, self.sent)

    def cut(self, reason):
        """Close now: a phone that reads nothing never lets its socket become writable,
        where waitress would close a connection it was asked to."""
        self.guard.count(reason)
        self.cut_off = True
        self.handle_close()

    def send(self, data, do_close=True):
        sent = super().send(data, do_close=do_close)
        self.sent += sent or 0
        return sent

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
            self.guard.close(self)


SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h: where a connection went before a redirect


def reached_addresses(sock):
    """The box's addresses a connection reached: the socket's own and, when the router's
    firewall redirected the phone here (OpenWrt: port 80 of 198.18.0.1), the one it asked
    for."""
    addresses = []
    with contextlib.suppress(OSError):
        addresses.append(sock.getsockname()[0])
        original = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
        addresses.append(socket.inet_ntoa(original[4:8]))
    return tuple(addresses)


def serve(app, host, port, threads):
    """Serve `app` until interrupted, guarded as above."""
    make_server(app, host, port, threads).run()


def make_server(app, host, port, threads):
    """The guarded server, listening already (an OSError if the port cannot be had)."""
    config = app.config
    capacity = fit_descriptors(config["CONNECTIONS"], threads, bodies.most_files(config))
    socket_map = {}
    server = create_server(
        app, map=socket_map, host=host, port=port, threads=threads, ident="piratebox",
        connection_limit=capacity + ROOM_TO_REPLACE,
        # the last resort for a connection nobody reads from (the deadlines come first)
        channel_timeout=60,
        max_request_header_size=64 * KB,
        max_request_body_size=bodies.largest(config) + 1,
        inbuf_overflow=IN_MEMORY_BODY,
        outbuf_overflow=NEVER,
        outbuf_high_watermark=ANSWER_IN_MEMORY,
        clear_untrusted_proxy_headers=True,
    )
    guard = Guard(bodies.Gate(app), config, capacity)
    for dispatcher in socket_map.values():
        if isinstance(dispatcher, BaseWSGIServer):
            dispatcher.channel_class = GuardedChannel
            dispatcher.guard = guard
    return server


def fit_descriptors(connections, threads, files_per_request):
    """Make room for every connection's files under the process's descriptor limit, or
    take fewer connections: a server out of descriptors cannot even send an error page."""
    per_request = files_per_request + 4
    needed = (connections + ROOM_TO_REPLACE) * DESCRIPTORS_PER_CONNECTION \
        + threads * per_request + DESCRIPTORS_BESIDES
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
                     // DESCRIPTORS_PER_CONNECTION - ROOM_TO_REPLACE)
        log.warning("only %d open files allowed: taking %d connections at once, not %d",
                    soft, fitted, connections)
        return fitted
    return connections
