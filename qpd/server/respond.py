"""qpd.server.respond: a worker's answer to a request, from the hit to the
last byte written.

`Responder.respond` builds the HTTPRequest and Hit, lets the publisher
process the hit, and writes the response: the status line and headers
(Date, Connection, Transfer-Encoding as the connection needs), then the
body, counted in the worker's Counters (mark_started: the response has
begun, so the dispatcher no longer answers 502 for it) and in its metrics
(qpd.metrics: method, status, duration).

How the body goes out:

- a bytes body under _SEND_CHUNK goes with its head in one send, the
  usual page;
- a file of known length goes with sendfile(2), the kernel copying it;
- a body whose length is not known (a generator or Stream body) goes out
  with chunked transfer encoding on an HTTP/1.1 keep-alive connection,
  each chunk as the body makes it, and the connection stays open; over
  HTTP/1.0 or SCGI its end is the end of the connection;
- a file span of at least handoff_size bytes, and the rest of any body
  that a client stops taking for PASS_WAIT seconds (spooled to a file:
  a stream's chunks framed as they go out, its last chunk included), are
  kept in `passing` and handed to the dispatcher (pass_response, fdpass
  SENDFILE), which sends them as the client takes them: a slow reader
  costs a descriptor there, not this worker. A body of unknown length may
  be endless: past STREAM_SPOOL_LIMIT bytes spooled, the worker sends the
  spool and the rest itself (each write bounded by send_timeout).

A client that stops taking a response raises _ClientGone out of respond:
the worker closes the connection.
"""

import io
import itertools
import logging
import os
import select
import tempfile
import time

from qpd.lib.collector import gc_clock
from qpd.lib.http import format_head, http_date
from qpd.server import fdpass, protocol
from qpd.server.intake import SocketBody, read_chunked
from qpd.server.listeners import DONTWAIT
from qpd.web.errors import HTTPError
from qpd.web.publish import log_quote, raw_path_query

__all__ = ['Responder', 'HitLog', 'ClientGone', 'request_base', 'PASS_WAIT',
           'format_slow_hit']

_SEND_CHUNK = 65536
_DRAIN_LIMIT = 65536
MAX_HIT_LINES = 256    # hit lines kept before a write
PASS_WAIT = 0.2       # a client that takes nothing of a response this long
                      # gets the rest of it from the dispatcher
STREAM_SPOOL_LIMIT = 64 << 20   # bytes of a body of unknown length spooled
                                # for a slow reader at most


def format_slow_hit(hit, arrived, began, processed, sent, gc_seconds,
                    collections):
    """(hit:Hit, arrived:float|None, began:float, processed:float,
        sent:float, gc_seconds:float, collections:int) -> str
    The slow-hit line (slow_hit_seconds): the hit's whole time and where it
    went, in milliseconds. arrived is when its request had begun to arrive
    (None when the worker does not know: a request the dispatcher handed
    over), began when the worker started on it, processed when the
    publisher was done, sent when its last byte was written; the syncs,
    application, commits and retry waits are the hit's own (Hit's
    *_seconds); 'other' is the rest of the publisher's time (the request
    object, the session, the hit line). A collection's time is also inside
    whichever phase it interrupted."""
    start = began if arrived is None else arrived
    publishing = processed - began
    parts = []
    if arrived is not None:
        parts.append(('waiting for the worker', began - arrived))
    phases = (('sync', hit.sync_seconds), ('application', hit.app_seconds),
              ('commit', hit.commit_seconds), ('retry waits', hit.retry_seconds))
    parts.extend(phase for phase in phases if phase[1] > 0)
    parts.append(('other', max(0.0, publishing - sum(p[1] for p in phases))))
    parts.append(('sending', sent - processed))
    if collections:
        parts.append(('%d garbage collection%s' % (
            collections, '' if collections == 1 else 's'), gc_seconds))
    request = hit.get_request()
    return 'slow hit %.1f ms: %s "%s" %s, %s attempt%s: %s' % (
        (sent - start) * 1000, request.get_method(),
        log_quote(raw_path_query(request.get_environ()))[:200],
        hit.get_response().get_status_code(), hit.attempts + 1,
        '' if hit.attempts == 0 else 's',
        ', '.join('%s %.1f' % (name, seconds * 1000)
                  for name, seconds in parts))


def request_base(message):
    """(message:fdpass.RequestMessage) -> dict: the environ keys of the
    connection and the listener a handed-over request came on."""
    return protocol.make_base_environ(
        message.remote_addr, message.remote_port, message.server_name,
        message.server_port, message.flags & fdpass.F_HTTPS)


class HitLog:
    """(site:Site, log)
    A worker's hit lines and error log in the site's log file, and its
    metrics (`metrics`, a qpd.metrics.Recorder, or None). Hit lines and
    metrics are kept in memory and written (flush) when the worker is about
    to wait, and at least every FLUSH_INTERVAL while it is busy: a write(2)
    and a few mapped-page updates per batch instead of per request. A
    worker killed with SIGKILL loses at most that second of them."""

    def __init__(self, site, log):
        self.site = site
        self.log = log
        self.lines = []         # hit log lines not yet written
        self.fd = None
        self.fds = ()           # the site log's descriptors
        self.metrics = None
        self.publisher = None   # whose retries flush counts
        self.flushed = 0.0      # when flush last ran

    def reopen(self):
        """() -> None: reopen the site's log file (logrotate moved it). The
        new file takes the old descriptors' numbers (dup2), so the hit
        writer and the error handler write to it from the next line on."""
        if not self.fds:
            return
        path = self.site.get_logfile()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | os.O_CLOEXEC, 0o600)
        except OSError as e:
            self.log('cannot reopen the log file %s (%s)' % (path, e))
            return
        for old in self.fds:
            os.dup2(fd, old, inheritable=False)
        os.close(fd)

    def open(self, publisher):
        """(publisher) -> None: send the publisher's hit lines and errors
        to the site's log file. Every worker appends to the one file: a
        hit line is one write to a descriptor opened with O_APPEND."""
        self.publisher = publisher
        path = self.site.get_logfile()
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                         | os.O_CLOEXEC, 0o600)
        except OSError as e:
            self.log('cannot open the log file %s (%s)' % (path, e))
            return
        lines = self.lines
        self.fd = fd

        def write_hit_line(line):
            lines.append(line)
            if len(lines) >= MAX_HIT_LINES:
                self.flush()
        publisher.set_hit_log(write_hit_line)
        handler = logging.StreamHandler(os.fdopen(os.dup(fd), 'a'))
        self.fds = (fd, handler.stream.fileno())     # SIGHUP reopens
        handler.setFormatter(logging.Formatter(
            '%(asctime)s %(levelname)s %(message)s'))
        logger = publisher.get_logger()
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False

    def flush(self):
        """() -> None: write the hit lines and the metrics kept since the
        last flush (see the class's docstring)."""
        self.flushed = time.monotonic()
        lines = self.lines
        if lines:
            data = ''.join(lines).encode('utf-8', 'backslashreplace')
            del lines[:]
            try:
                os.write(self.fd, data)
            except OSError as e:
                self.log('cannot write the hit log (%s)' % e)
        if self.metrics is not None:
            if self.publisher is not None:
                self.metrics.note_publisher(self.publisher)
            self.metrics.flush()


class ClientGone(Exception):
    """The client stopped taking the response."""


class Responder:
    """(site:Site, log)
    A worker's response writer; log(message) reports what goes wrong. The
    worker sets, as it gets them, `publisher` (which processes the hits),
    `counters` (fdpass.Counters, replaced when it reconnects) and
    `metrics` (a qpd.metrics.Recorder, or None), which count the
    responses, and `banned` (the worker's qpd.server.banned.Banned), which
    refuses a client a trusted proxy names (`trusted_proxies`: the
    dispatcher saw only the proxy's address)."""

    def __init__(self, site, log):
        from qpd.web.hit import Hit
        from qpd.web.request import HTTPRequest
        self.hit_class = Hit
        self.request_class = HTTPRequest
        self.limits = protocol.get_limits(site)
        self.script_name = site.get_script_name()
        self.publisher = None
        self.counters = None
        self.metrics = None
        self.banned = ()
        self.trusted = site.get('trusted_proxies')
        self.log = log
        self.handoff_size = site.get('handoff_size')  # passed from this long
        self.var_directory = site.get_var_directory()
        self.passing = None        # (file, offset, length, head) to pass
        self.slow_hit = site.get('slow_hit_seconds')

    def serve(self, sock, message, spool=None, arrived=None):
        """(sock, message:fdpass.RequestMessage, spool:file=None,
            arrived:float=None) -> (keep:bool, leftover:bytes)
        Answer a request the dispatcher handed over: its environ from the
        head, its body from the message, the spool or the socket."""
        flags = message.flags
        head = message.head
        body = message.body
        scgi = flags & fdpass.F_SCGI
        reader = None
        leftover = b''
        keep = False
        try:
            base = request_base(message)
            if scgi:
                environ = protocol.make_scgi_environ(
                    head, base, self.script_name)
            elif flags & fdpass.F_UNCHECKED:
                parsed, environ = protocol.parse_http_request(
                    head, self.limits, base, self.script_name)
                keep = parsed.keep_alive
            else:
                environ, keep = protocol.make_http_environ(
                    head, base, self.script_name)
            if flags & fdpass.F_SPOOLED and spool is not None:
                spool.seek(0)
                environ['CONTENT_LENGTH'] = str(os.fstat(spool.fileno()).st_size)
                body_file = spool
            elif flags & fdpass.F_COMPLETE:
                if 'CONTENT_LENGTH' in environ or body:
                    environ['CONTENT_LENGTH'] = str(len(body))
                body_file = io.BytesIO(body)
            elif flags & fdpass.F_CHUNKED:
                body_file, leftover = read_chunked(
                    sock, body, environ, self.limits['max_body_size'])
            else:
                reader = body_file = SocketBody(
                    sock, body, int(environ.get('CONTENT_LENGTH') or 0))
        except HTTPError as e:
            self.send_error(sock, e, scgi)
            return False, b''
        if flags & fdpass.F_CLOSE:
            keep = False
        return self.respond(sock, environ, body_file, keep, scgi,
                            reader, arrived), leftover

    def respond(self, sock, environ, body_file, keep, scgi, reader=None,
                arrived=None):
        """(sock, environ:dict, body_file, keep:bool, scgi, reader=None,
            arrived:float=None) -> keep:bool
        Process the hit and send its response; may the connection stay
        open? arrived: see Hit.arrived. Behind a trusted proxy, the
        client is the one its X-Forwarded-For names (a banned one gets
        403)."""
        began = time.monotonic()
        if self.trusted and protocol.apply_forwarded(environ, self.trusted):
            if environ['REMOTE_ADDR'] in self.banned:
                self.send_error(sock, HTTPError(403, 'address banned'), scgi)
                return False
        gc_seconds, gc_count = gc_clock.seconds, gc_clock.collections
        request = self.request_class(body_file, environ)
        hit = self.hit_class(request)
        hit.arrived = arrived
        self.publisher.process_hit(hit)
        processed = time.monotonic()
        response = hit.get_response()
        if reader is not None and reader.remaining > 0:
            keep = keep and reader.drain(_DRAIN_LIMIT)
        chunked = False
        if response.get_content_length() is None and not getattr(
                response, 'head', False):
            # A body of unknown length (a generator, a Stream): chunked on
            # an HTTP/1.1 keep-alive connection, which stays open; else the
            # end of the connection is the end of the body.
            if keep and not scgi and environ['SERVER_PROTOCOL'] == 'HTTP/1.1':
                chunked = True
            else:
                keep = False
        status_line = protocol.format_status_line(
            response.get_status_code(), response.get_reason_phrase(), scgi)
        if scgi:
            keep = False
            headers = response.get_header_list()
        else:
            headers = [('Date', http_date())]
            if not keep:
                headers.append(('Connection', 'close'))
            elif environ['SERVER_PROTOCOL'] == 'HTTP/1.0':
                headers.append(('Connection', 'keep-alive'))
            if chunked:
                headers.append(('Transfer-Encoding', 'chunked'))
            headers.extend(response.get_header_list())
        try:
            head = format_head(status_line, headers)
        except ValueError as e:
            self.log(str(e))
            self.send_error(sock, HTTPError(500, 'bad response header'), scgi)
            return False
        if chunked:
            self.send_chunked(sock, response, head)
        else:
            self.send_response(sock, response, head)
        if self.metrics is not None:        # qpd.metrics, for qpd metrics
            # (the publisher's retries are counted at each flush)
            self.metrics.observe_request(
                environ['REQUEST_METHOD'], response.get_status_code(),
                time.monotonic() - began)
        if self.slow_hit is not None:
            sent = time.monotonic()
            if sent - (began if arrived is None else arrived) >= self.slow_hit:
                self.log(format_slow_hit(
                    hit, arrived, began, processed, sent,
                    gc_clock.seconds - gc_seconds,
                    gc_clock.collections - gc_count))
        return keep

    def pass_file(self, response, head):
        """(response, head:bytes) -> bool: when the body is a file span of
        at least handoff_size bytes, keep it (self.passing) for
        pass_response, which hands it and the head to the dispatcher to
        send, and say True; else False (nothing done)."""
        if response.head or self.handoff_size is None:
            return False
        length = response.get_content_length()
        body = response.body
        span = getattr(body, 'get_file_span', None)
        try:
            if span is not None:
                file, offset, size = span()
            elif hasattr(body, 'fileno') and hasattr(body, 'tell'):
                file, offset, size = body, body.tell(), length
            else:
                return False
            if (size != length or size < max(self.handoff_size, 1)
                    or os.fstat(file.fileno()).st_size < offset + size):
                return False
        except (OSError, ValueError, TypeError):
            return False
        self.counters.mark_started()
        self.passing = (file, offset, size, head)
        return True

    def pass_response(self, dispatcher, sock, conn_id, keep, leftover):
        """(dispatcher:socket, sock | None, conn_id:int, keep:bool,
            leftover:bytes) -> None
        Hand the connection and the response kept by pass_file to the
        dispatcher (SENDFILE on its socket, with the file's descriptor);
        close this process's copies of the file and of the socket."""
        file, offset, length, head = self.passing
        self.passing = None
        try:
            fdpass.send_message(dispatcher, fdpass.pack_sendfile(
                keep, conn_id, offset, length, head, leftover),
                (file.fileno(),))
        except OSError as e:
            self.log('cannot reach the dispatcher (%s)' % e)
        finally:
            file.close()
            if sock is not None:
                sock.close()

    def send_response(self, sock, response, head):
        """(sock, response, head:bytes) -> None: the head and the body (of
        known length), or the head and a file span to pass (pass_file)."""
        body = response.body
        if type(body) is bytes and len(body) < _SEND_CHUNK:
            # The usual page: head and body in one send.
            self.counters.mark_started()
            try:
                self.send_or_pass(
                    sock, head if response.head else head + body, (),
                    response)
            except OSError as e:
                raise ClientGone(e)
            return
        if self.pass_file(response, head):
            return
        self.counters.mark_started()
        if self.send_file(sock, response, head):
            return
        pending = [head]
        size = len(head)
        # The rest goes to the dispatcher when the client stops taking it
        # (send_or_pass); a body of unknown length, which may be endless,
        # only up to STREAM_SPOOL_LIMIT.
        limit = (None if response.get_content_length() is not None
                 else STREAM_SPOOL_LIMIT)
        send = self.send_or_pass
        try:
            chunks = response.iter_body()
            for chunk in chunks:
                pending.append(chunk)
                size += len(chunk)
                if size >= _SEND_CHUNK:
                    data = b''.join(pending)
                    pending = []
                    size = 0
                    if not send(sock, data, chunks, response, limit):
                        return
            if pending:
                data = pending[0] if len(pending) == 1 else b''.join(pending)
                send(sock, data, (), response, limit)
        except OSError as e:
            response.close()
            raise ClientGone(e)

    def send_or_pass(self, sock, data, rest, response, limit=None):
        """(sock, data:bytes, rest:iterator of bytes, response,
            limit:int=None) -> bool
        Send data; True when it all went. A client that takes nothing for
        PASS_WAIT seconds (a slow reader, or one that reads nothing) gets
        the rest from the dispatcher: what is unsent of data and the rest
        of the body are spooled to a temporary file in the var directory
        and kept (self.passing) for pass_response, and False is returned,
        so the worker is free at once. When the spool grows past limit
        (a stream that may not end), the worker sends the spool and then
        the rest itself, as a blocking socket does (send_timeout per
        write), and True is returned. OSError when the client is gone."""
        try:
            # Most often it all goes at once: no view, no poll.
            sent = sock.send(data, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent == len(data):
            return True
        view = memoryview(data)[sent:]
        while view:
            try:
                view = view[sock.send(view, DONTWAIT):]
                continue
            except (BlockingIOError, InterruptedError):
                pass
            poll = select.poll()
            poll.register(sock.fileno(), select.POLLOUT)
            if poll.poll(PASS_WAIT * 1000):
                continue
            spool = tempfile.TemporaryFile(
                dir=self.var_directory)
            try:
                spool.write(view)
                for chunk in rest:
                    spool.write(chunk)
                    if limit is not None and spool.tell() > limit:
                        self.send_spool(sock, spool)
                        for chunk in rest:
                            sock.sendall(chunk)
                        spool.close()
                        return True
            except BaseException:
                spool.close()
                raise
            finally:
                response.close()
            self.passing = (spool, 0, spool.tell(), b'')
            return False
        return True

    def send_spool(self, sock, spool):
        """(sock, spool:file) -> None: send what spool holds, from its
        start, on the blocking socket (each write bounded by send_timeout)."""
        end = spool.tell()
        spool.flush()
        offset = 0
        while offset < end:
            sent = os.sendfile(sock.fileno(), spool.fileno(), offset,
                               end - offset)
            if not sent:
                raise OSError('the spool ended early')
            offset += sent

    def send_file(self, sock, response, head):
        """(sock, response, head:bytes) -> bool: send a body that is a
        file of known length with sendfile(2), the kernel copying the file
        to the socket; False (nothing sent) for any other body."""
        body = response.body
        length = response.get_content_length()
        if (response.head or length is None or not hasattr(body, 'fileno')
                or not hasattr(body, 'seek')):
            return False
        try:
            offset = body.tell()
            if os.fstat(body.fileno()).st_size - offset < length:
                return False
        except (OSError, ValueError):
            return False
        try:
            sock.sendall(head)
            out, source, end = sock.fileno(), body.fileno(), offset + length
            while offset < end:
                # A client that stops reading makes sendfile fail after
                # send_timeout (SO_SNDTIMEO), like sendall: never a wait
                # without end (socket.sendfile would poll again forever).
                sent = os.sendfile(out, source, offset, end - offset)
                if not sent:
                    raise OSError('the file ended early')
                offset += sent
        except OSError as e:
            raise ClientGone(e)
        finally:
            response.close()
        return True

    def send_chunked(self, sock, response, head):
        """(sock, response, head:bytes) -> None: the body in chunked
        transfer encoding, each chunk sent as the body makes it (a stream
        goes out as it is produced), then the last, empty chunk. A client
        that stops taking it gets the rest from the dispatcher, framed
        (send_or_pass, up to STREAM_SPOOL_LIMIT)."""
        self.counters.mark_started()
        framed = itertools.chain(
            (b'%x\r\n%s\r\n' % (len(chunk), chunk)     # never an empty one
             for chunk in response.iter_body()), (b'0\r\n\r\n',))
        pending = head
        try:
            for data in framed:
                if not self.send_or_pass(sock, pending + data, framed,
                                         response, STREAM_SPOOL_LIMIT):
                    return
                pending = b''
        except OSError as e:
            response.close()
            raise ClientGone(e)

    def send_error(self, sock, error, scgi):
        """(sock, error:HTTPError, scgi) -> None: a short error response."""
        self.counters.mark_started()
        try:
            sock.sendall(protocol.format_error(
                error.get_status(), error.get_message(), scgi,
                error.get_headers()))
        except OSError:
            pass


