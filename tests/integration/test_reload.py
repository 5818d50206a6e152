"""`qpd serve NAME --reload`: an edited .qpy is served within 2 s by new
workers; a broken edit prints its file and line and the old workers keep
serving; fixing it serves again. The StorageServer and the dispatcher
stay the same processes."""

import os
import time

import pytest

from harness import Cluster, make_home
from harness.processes import wait_until

pytestmark = pytest.mark.timeout(120)

SLASH = '''\
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_response
from .page import render


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['']

    def _q_index(self):
        get_response().set_content_type('text/html')
        return render()
'''

PAGE = '''\
def render:xml():
    '<p>%s</p>'
'''


def reload_budget():
    """() -> float: 2 s, the promise; stretched by the load per core when
    other work crowds this machine (starting a worker is CPU-bound). The
    one-minute load lags a burst, so the processes runnable right now
    count too."""
    with open('/proc/loadavg') as f:
        running = int(f.read().split()[3].split('/')[0]) - 1   # not us
    crowding = max(os.getloadavg()[0], running) / (os.cpu_count() or 1)
    return 2.0 * max(1.0, crowding)


def get_text(cluster):
    status, _, body = cluster.get('/')
    return status, body.decode()


def served_within(cluster, text, seconds):
    """(cluster, text, seconds) -> float: how long until / shows text."""
    began = time.monotonic()
    while True:
        status, body = get_text(cluster)
        if status == 200 and text in body:
            return time.monotonic() - began
        assert time.monotonic() - began < seconds, (status, body)
        time.sleep(0.02)


def start_reloading(cluster):
    """(cluster) -> Process: `qpd serve hello --workers 2 --reload`"""
    return cluster.start('serve', 'serve', 'hello', '--workers', '2',
                         '--reload')


def make_page_home(tmp_path):
    """(tmp_path) -> (home, page): a site whose / is page.qpy's 'first'."""
    home = make_home(tmp_path, slash=SLASH % {'configuration': {
        'http_address': ('127.0.0.1', 0), 'scgi_address': None,
        'as_https_address': None}})
    page = os.path.join(home, 'sites', 'hello', 'page.qpy')
    with open(page, 'w') as f:
        f.write(PAGE % 'first')
    return home, page


def test_reload(tmp_path):
    home, page = make_page_home(tmp_path)
    with Cluster(home) as cluster:
        serve = start_reloading(cluster)
        ready = serve.wait_ready('serve')[0]
        cluster._set_addresses(ready[3])
        assert get_text(cluster) == (200, '<p>first</p>')
        stable = {r[0]: r[2] for r in serve.ready
                  if r[0] in ('durus', 'dispatcher')}
        wait_until(lambda: any('watching' in line for line in serve.errors))

        with open(page, 'w') as f:
            f.write(PAGE % 'second')
        first_pids = set(cluster.get_worker_pids())
        budget = reload_budget()
        took = served_within(cluster, '<p>second</p>', budget)
        print('reload took %.2f s (budget %.1f s)' % (took, budget))
        assert any('page.qpy changed; restarting the workers' in line
                   for line in serve.errors)
        # The reload is over when the pool holds only new workers.
        wait_until(lambda: len(cluster.get_worker_pids()) == 2 and not (
            set(cluster.get_worker_pids()) & first_pids), timeout=20)

        # A broken edit: the error names the .qpy file and line; the old
        # workers go on serving.
        with open(page, 'w') as f:
            f.write('def render:xml(\n    "<p>broken</p>"\n')
        wait_until(lambda: any('does not import' in line
                               for line in serve.errors), timeout=10)
        errors = '\n'.join(serve.errors)
        assert 'page.qpy", line' in errors
        for _ in range(5):
            assert get_text(cluster) == (200, "<p>second</p>"), "\n".join(serve.errors)

        with open(page, 'w') as f:
            f.write(PAGE % 'third')
        served_within(cluster, '<p>third</p>', reload_budget())

        # The storage server and the dispatcher never restarted.
        roles = {r[0]: r[2] for r in serve.ready
                 if r[0] in ('durus', 'dispatcher')}
        assert roles == stable
        wait_until(lambda: cluster.get_stats()['workers'] == 2, timeout=20)


def test_edit_at_once_after_the_first_answer(tmp_path):
    """An edit made as soon as the site first answers is not lost: the
    watcher runs before the workers import the site, and compares the
    files with the ones they loaded once it watches."""
    home, page = make_page_home(tmp_path)
    with Cluster(home) as cluster:
        serve = start_reloading(cluster)
        # The dispatcher's READY line names the port; the first 200 comes
        # as soon as a worker is up, before serve's own READY line.
        ready = serve.wait_ready('dispatcher')[0]
        cluster._set_addresses(ready[3])
        while True:
            try:
                status = get_text(cluster)[0]
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.005)
        with open(page, 'w') as f:
            f.write(PAGE % 'second')
        serve.wait_ready('serve')
        first_pids = set(cluster.get_worker_pids())
        budget = reload_budget()
        # A worker still importing may read the edit itself; the watcher
        # sees it all the same, and the workers are replaced.
        wait_until(lambda: any(
            'page.qpy changed; restarting the workers' in line
            for line in serve.errors), timeout=budget)
        took = served_within(cluster, '<p>second</p>', budget)
        print('served the edit after %.2f s (budget %.1f s)' % (took, budget))
        # replaced: the pool holds only new workers, which serve the edit
        wait_until(lambda: len(cluster.get_worker_pids()) == 2 and not (
            set(cluster.get_worker_pids()) & first_pids), timeout=20)
        for _ in range(10):
            assert get_text(cluster) == (200, '<p>second</p>')
