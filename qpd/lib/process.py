"""qpd.lib.process: what every long-running qpd process shares about
itself: its dated log line, the unix socket file it leaves behind, and
whether a process of a given pid still runs (`is_alive`), and how it
starts a helper thread (`start_thread`).

Each process (the StorageServer, the dispatcher, a worker, `qpd serve`)
writes its own events to stderr as one flushed line:

    2026-12-06 19:20:01 qpd dispatcher NAME: worker 0 pid=123 ready

`log_line` is the only place that formats it. `remove_stale_socket` is
the only place that decides a unix socket file may go: when nobody
listens on it any more (a process that was killed leaves its file).

Signals are the main thread's. A signal sent to a process goes to any one
of its threads that does not block it; when a helper thread takes it,
Python notes it for the main thread, but the main thread, asleep in
select(), is not woken and stops only when its select() times out (a
StorageServer under SIGTERM sat idle for ever that way, once in a few
hundred starts). `start_thread` starts a thread with the asynchronous
signals blocked in it, so that the kernel gives every one of them to the
main thread, whose system call it interrupts.
"""

import errno
import os
import signal
import socket
import stat
import sys
import time

__all__ = ['log_line', 'remove_stale_socket', 'start_thread']

# Raised by the thread's own fault or write (blocking them would hide the
# fault or leave them pending in that thread), never sent to the process.
_SYNCHRONOUS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL,
                signal.SIGTRAP, signal.SIGSYS, signal.SIGABRT, signal.SIGPIPE}


def start_thread(thread):
    """(thread:threading.Thread) -> threading.Thread: start thread with
    every asynchronous signal blocked in it (it inherits the mask it is
    started with); the caller's own mask is as it was. See the module's
    docstring."""
    blocked = signal.valid_signals() - _SYNCHRONOUS
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def log_line(who, message, out=None):
    """(who:str|None, message:str, out:file=None) -> None
    Write 'DATE TIME who: message' (or 'DATE TIME message' when who is
    None) as one flushed line on out (default: sys.stderr)."""
    out = out or sys.stderr
    stamp = time.strftime('%Y-%m-%d %H:%M:%S')
    if who is None:
        out.write('%s %s\n' % (stamp, message))
    else:
        out.write('%s %s: %s\n' % (stamp, who, message))
    out.flush()


def remove_stale_socket(path):
    """(path:str) -> None: remove a socket file nobody listens on; raise
    OSError when path is no socket or another process still listens there."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise OSError(errno.EEXIST, '%s exists and is not a socket' % path)
    for kind in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):
        probe = socket.socket(socket.AF_UNIX, kind)
        try:
            probe.connect(path)
        except OSError as e:
            if e.errno == errno.EPROTOTYPE:
                continue
            break
        else:
            raise OSError(errno.EADDRINUSE,
                          'another process listens on %s' % path)
        finally:
            probe.close()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_alive(pid):
    """(pid:int) -> bool: does the process run? One of another user's
    counts (kill(2) says EPERM); a zombie (exited, not yet reaped) does
    not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(')')[-1].split()[0] != 'Z'
    except OSError:
        return True
