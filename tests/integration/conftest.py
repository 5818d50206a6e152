"""Fixtures for tests that boot real servers.

`serve_wsgi(site, workers=1)` (a factory fixture) runs gunicorn in a
subprocess serving `qpd.web.wsgi.make_site_app(NAME, home=HOME)` on a free
port of 127.0.0.1, waits until it listens, and returns its base URL
('http://127.0.0.1:PORT'); every server it started is stopped after the
test. The shared Durus fixtures (durus_server, make_site, publish_site)
are in tests/conftest.py.
"""

import re
import signal
import subprocess
import sys

import pytest

_LISTENING = re.compile(r'Listening at: (http://[\d.]+:\d+)')


@pytest.fixture
def serve_wsgi():
    processes = []

    def serve(site, workers=1):
        app = 'qpd.web.wsgi:make_site_app(%r, home=%r)' % (
            site.get_name(), site.get_home())
        process = subprocess.Popen(
            [sys.executable, '-m', 'gunicorn', '--workers', str(workers),
             '--bind', '127.0.0.1:0', '--log-level', 'info', app],
            stderr=subprocess.PIPE, text=True)
        processes.append(process)
        lines = []
        for line in process.stderr:         # pytest-timeout guards this
            lines.append(line)
            found = _LISTENING.search(line)
            if found:
                return found.group(1)
        raise RuntimeError('gunicorn did not start:\n' + ''.join(lines))

    yield serve
    for process in processes:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        process.stderr.close()
