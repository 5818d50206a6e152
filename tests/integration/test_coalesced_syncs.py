"""Coalesced syncs keep read-your-writes: a worker that serves several
waiting requests after one sync (coalesce_syncs, Hit.arrived) never shows a
client a state older than a commit acknowledged to it before it sent the
request. Writers increment a counter and, on another connection (so maybe
through the other worker), read it back at once; readers keep both workers
busy with keep-alive requests, so that requests wait and syncs are shared.
Real StorageServer, dispatcher and workers."""

import http.client
import threading
import time

from harness import COUNTER_SLASH, Cluster, make_home

SECONDS = 3.0
ROUNDS = 4


def _get(connection, path):
    connection.request('GET', path)
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, (path, response.status, body)
    return int(body)


def _writer(port, deadline, stale, counts):
    writes = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        while time.monotonic() < deadline:
            written = _get(writes, '/inc')
            reads = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
            try:
                seen = _get(reads, '/count')
            finally:
                reads.close()
            counts.append(written)
            if seen < written:
                stale.append((written, seen))
    finally:
        writes.close()


def _reader(port, deadline, counts):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        while time.monotonic() < deadline:
            counts.append(_get(connection, '/count'))
    finally:
        connection.close()


def test_coalesced_syncs_still_show_every_acknowledged_commit(tmp_path):
    configuration = {'http_address': ('127.0.0.1', 0)}
    home = make_home(tmp_path, configuration=configuration,
                     slash=COUNTER_SLASH % {'configuration': configuration})
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        port = cluster.addresses['http'][1]
        # On a busy machine a round may happen to share no sync: the load
        # goes on, a round at a time, until the workers have shared some
        # (else this tested nothing), and every round must show no stale
        # read.
        coalesced = 0
        for _ in range(ROUNDS):
            _load_round(port)
            coalesced = _coalesced(port)
            if coalesced > 0:
                break
        assert coalesced > 0, 'no sync was shared in %d rounds' % ROUNDS


def _load_round(port):
    deadline = time.monotonic() + SECONDS
    stale, written, read = [], [], []
    threads = [threading.Thread(target=_writer,
                                args=(port, deadline, stale, written))
               for _ in range(4)]
    threads += [threading.Thread(target=_reader,
                                 args=(port, deadline, read))
                for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(written) > 20 and len(read) > 100
    assert stale == []


def _coalesced(port):
    """(port:int) -> int: the most syncs shared by one worker, as far as
    20 requests (landing on either worker) can tell."""
    coalesced = 0
    for _ in range(20):
        connection = http.client.HTTPConnection('127.0.0.1', port,
                                                timeout=30)
        try:
            coalesced = max(coalesced, _get(connection, '/coalesced'))
        finally:
            connection.close()
    return coalesced
