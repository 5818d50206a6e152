"""`qpd serve NAME`: the storage server, the dispatcher and N workers in the
foreground; a worker that dies is started again; SIGINT or SIGTERM stops
them all and leaves no process behind."""

import os
import signal

import pytest

from harness import Cluster, make_home, pid_exists, wait_until


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_serve(tmp_path, signum):
    with Cluster(make_home(tmp_path)) as cluster:
        serve = cluster.start_serve(workers=2)
        roles = sorted(r[0] for r in serve.ready)
        assert roles == ['dispatcher', 'durus', 'serve', 'worker', 'worker']
        assert cluster.get('/') [::2] == (200, b'hello')
        children = [r[2] for r in serve.ready if r[0] != 'serve']
        if signum == signal.SIGTERM:
            # a worker that dies is started again
            worker = cluster.get_worker_pids()[0]
            os.kill(worker, signal.SIGKILL)
            wait_until(lambda: cluster.get_stats()['restarts'] == 1,
                       timeout=15)
            assert cluster.get_stats()['workers'] == 2
            children = [r[2] for r in serve.ready if r[0] != 'serve']
        serve.popen.send_signal(signum)
        assert serve.popen.wait(30) == 0
        for pid in children:
            wait_until(lambda: not pid_exists(pid), timeout=5)
