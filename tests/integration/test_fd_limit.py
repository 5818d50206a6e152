"""Issue 15: a dispatcher at its open-file limit backs off accepting and
logs once per interval (it used to write 89,000 "accept failed: [Errno
24]" lines in 2 s, spinning), and serves again once descriptors are free.
The limit is lowered on the running dispatcher with prlimit(2)."""

import os
import resource
import socket
import time

import pytest

from harness import Cluster, make_home, wait_until

pytestmark = pytest.mark.timeout(120)


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def test_dispatcher_at_its_fd_limit_backs_off(tmp_path):
    home = make_home(tmp_path, configuration={'header_timeout': 30})
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        pid = cluster.processes['dispatcher'].get_pid()
        address = cluster.addresses['http']
        used = len(os.listdir('/proc/%d/fd' % pid))
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (used + 6, used + 6))
        clients = []
        try:
            for _ in range(40):
                sock = socket.create_connection(address, timeout=10)
                sock.sendall(b'GET / HTTP/1.1\r\n')     # the head goes on
                clients.append(sock)
            time.sleep(0.5)
            before = cpu_seconds(pid)
            time.sleep(2.0)
            spent = cpu_seconds(pid) - before
            lines = [line for line in cluster.processes['dispatcher'].errors
                     if 'accept failed' in line]
            print('\nAT THE FD LIMIT: %d log lines, %.2f s of CPU in 2 s'
                  % (len(lines), spent))
            assert 1 <= len(lines) <= 2, lines
            assert 'Errno 24' in lines[0] and 'paus' in lines[0]
            assert spent < 0.5          # backing off, not spinning
        finally:
            for sock in clients:
                sock.close()
        # With descriptors free again, it accepts and serves.
        wait_until(lambda: cluster.get('/', timeout=10)[0] == 200,
                   timeout=20, interval=0.2)
