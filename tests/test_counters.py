"""fdpass.Counters: the worker's state in shared memory, read by the
dispatcher while the worker writes it. A read that meets a write half done
must not be taken: the new phase with the old `since` makes a worker idle
for a while look busy since then (SIGUSR2, or a stack dump for a
request_timeout it never ran)."""

import os
import time

from qpd.server import fdpass


def test_the_state_reads_back():
    counters = fdpass.Counters()
    reader = fdpass.Counters(os.dup(counters.get_fd()))
    try:
        counters.mark_received(5)
        assert reader.read() == (1, 0)
        conn_id, phase, since, served = reader.read_state()
        assert (conn_id, phase, served) == (5, fdpass.READING, 0)
        assert abs(since - time.monotonic()) < 5
        counters.mark_started()
        assert reader.read() == (1, 1)
        assert reader.read_state()[1] == fdpass.ANSWERING
        counters.accepted += 1
        counters.mark_idle()
        assert reader.read_state()[1:] == (fdpass.IDLE, since, 1)
        assert reader.read_accepted() == 1
    finally:
        reader.close()
        counters.close()


def test_a_read_never_takes_a_write_half_done():
    counters = fdpass.Counters()
    counters.mark_idle()
    pid = os.fork()
    if pid == 0:            # the worker: a request after a long idle time
        try:
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                counters.since = 0.0
                counters._write()
                counters.mark_reading(7)
                counters.mark_idle()
        finally:
            os._exit(0)
    reader = fdpass.Counters(os.dup(counters.get_fd()))
    reads = torn = 0
    try:
        while not os.waitpid(pid, os.WNOHANG)[0]:
            conn_id, phase, since, served = reader.read_state()
            reads += 1
            if phase != fdpass.IDLE and since == 0.0:
                torn += 1
    finally:
        reader.close()
        counters.close()
    # Without the write's number at both ends: about 0.7% of the reads.
    assert reads > 10000 and torn == 0, (reads, torn)
