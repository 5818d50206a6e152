"""QP-style sites written in Python 2 (tests/integration/qp2site/ and
qp2keys/, kept with their QP imports): each copied into a qpd home with
only its port numbers changed, ported with `qpd port` alone, served with
`qpd serve`, and every page checked over HTTP, Digest sign-in included
(a user made with `qpd shell`), the DurusDirectory browsed after it, and
sign out. qp2keys keeps settings of its own in its configuration, which
`qpd port` renames with the `site_` prefix, reads included.
"""

import os
import re
import shutil
import tempfile

import pytest
import requests
from requests.auth import HTTPDigestAuth

from harness import QpSites, port_counts, qpd

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope='module')
def sites():
    """(sites:QpSites, reports:{name: what qpd port said})"""
    home = tempfile.mkdtemp(prefix='qpd2')      # short: unix socket paths
    sites = QpSites(home)
    reports = {}
    try:
        for name in ('qp2site', 'qp2keys'):
            sites.add(name, os.path.join(HERE, name))
            reports[name] = sites.port(name)
        sites.serve('qp2site')
        sites.serve('qp2keys')
        for name in ('qp2site', 'qp2keys'):
            sites.shell(name, "create_user('ann', 'sec ret', admin=True)")
        yield sites, reports
    finally:
        sites.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_what_port_converted(sites):
    sites, reports = sites
    assert port_counts(reports['qp2site']) == {
        'basestring': 1, 'compile_qpy_files dropped': 2, 'dict': 3,
        'durus_address dropped': 1, 'except': 1, 'has_key': 2, 'idioms': 1,
        'import': 1, 'QP imports mapped': 7, 'numliterals': 3, 'print': 2,
        'raise': 1, 'string': 2, 'unicode': 1}
    assert port_counts(reports['qp2keys']) == {
        'compile_qpy_files dropped': 2, 'import': 1, 'QP imports mapped': 8,
        'map': 1, 'site key reads renamed': 5, 'site keys renamed': 3,
        'xrange': 1}
    for name in ('qp2site', 'qp2keys'):
        assert '0 line(s) left to edit by hand' in reports[name]
        assert 'signs in with HTTP Digest' in reports[name]
        again = qpd('port', sites.get_package(name), '--diff')
        assert again.returncode == 0 and again.stdout == ''
    package = sites.get_package('qp2site')
    with open(os.path.join(package, 'slash.qpy')) as f:
        slash = f.read()
    assert 'def index [html] (self):' in slash      # templates untouched
    assert 'def stats [plain] (self):' in slash
    assert 'from .model import Entries, parse_count' in slash
    with open(os.path.join(package, 'slash.qpy.qp-orig')) as f:
        assert 'from model import Entries' in f.read()


def digest_browser():
    browser = requests.Session()
    browser.auth = HTTPDigestAuth('ann', 'sec ret')
    return browser


def test_qp2site_pages(sites):
    sites, reports = sites

    def get(path, **kwargs):
        return requests.get(sites.url('qp2site', path), timeout=30,
                            allow_redirects=False, **kwargs)
    response = get('/')
    assert response.status_code == 200
    assert '<title>qp2site</title>' in response.text
    assert re.findall(r'<li><a href="([^"]+)">([^<]+)</a></li>',
                      response.text) == [
        ('./', 'Home'), ('./entries', 'Entries'), ('./private', 'Private'),
        ('./database', 'Database')]
    assert '<p class="who">nobody</p>' in response.text
    response = get('/entries/')
    assert re.findall(r'<li><a href="(\d+)">(\w+)</a></li>',
                      response.text) == [('1', 'First'), ('2', 'Second')]
    assert get('/entries').status_code == 301
    response = get('/entries/1')
    assert response.status_code == 200
    assert '<p class="text">The first entry.</p>' in response.text
    assert '<p class="tags">a, b</p>' in response.text      # string.join
    assert '<p class="shout">FIRST</p>' in response.text    # string.upper
    assert re.search(r'read (\d+) times', response.text)
    assert get('/entries/9').status_code == 404
    assert get('/entries/1/x').status_code == 404
    response = get('/stats.txt')
    assert response.headers['Content-Type'].startswith('text/plain')
    assert re.fullmatch(r'entries: 2\nreadings: \d+\nmode: 644\n',
                        response.text)
    assert get('/count?n=12').text == 'count 12'
    assert get('/count?n=x').text == 'no count'     # except ValueError, e
    assert get('/nowhere').status_code == 404
    for path in ('/private', '/database/'):
        response = get(path)
        assert response.status_code == 302
        assert response.headers['Location'] == 'https://localhost:%d%s' % (
            sites.ports['qp2site']['https_address'], path)


def test_qp2site_digest_database_sign_out(sites):
    sites, reports = sites

    def url(path):
        return sites.url('qp2site', path, 'as_https_address')
    assert requests.get(url('/private'), timeout=30).status_code == 401
    browser = digest_browser()
    response = browser.get(url('/private'), timeout=30)
    assert response.status_code == 200, response.text
    assert '<p>for ann only</p>' in response.text
    assert '<p class="who">ann <a href="/sign_out">sign out</a></p>' in \
        response.text
    response = browser.get(url('/database/'), timeout=30)
    assert response.status_code == 200
    link = re.search(r"&#39;entries&#39;</code></th><td>"
                     r'<a class="durus-ref" href="(\d+/)">', response.text)
    assert link, response.text
    response = browser.get(url('/database/' + link.group(1)), timeout=30)
    assert response.status_code == 200
    assert 'qpd.sites.qp2site.model.Entries' in response.text
    response = browser.get(url('/sign_out'), timeout=30,
                           allow_redirects=False)
    assert response.status_code == 302
    # Without allowed_hosts the Location is site-relative (issue 27 #8),
    # never built on the client's Host.
    assert response.headers['Location'] == '/'
    response = requests.get(url('/'), timeout=30)
    assert '<p class="who">nobody</p>' in response.text
    assert requests.get(url('/database/'), timeout=30).status_code == 401


def test_qp2keys_reads_its_own_keys(sites):
    sites, reports = sites

    def get(path):
        return requests.get(sites.url('qp2keys', path), timeout=30,
                            allow_redirects=False)
    response = get('/')
    assert response.status_code == 200
    assert '<title>Welcome, visitor</title>' in response.text
    assert '<p class="size">3 a page</p>' in response.text
    assert re.findall(r'<li>(\d+)</li>', get('/page').text) == [
        '4', '5', '6']
    assert get('/colors.txt').text == 'RED GREEN'
    assert get('/admin').status_code == 302     # to https first

    def url(path):
        return sites.url('qp2keys', path, 'as_https_address')
    assert requests.get(url('/admin'), timeout=30).status_code == 401
    browser = digest_browser()
    response = browser.get(url('/admin'), timeout=30)
    assert response.status_code == 200, response.text
    assert '<p>ann may change the greeting: Welcome, visitor</p>' in \
        response.text
    response = browser.get(url('/database/'), timeout=30)
    assert response.status_code == 200 and 'PersistentDict 0' in \
        response.text
    response = browser.get(url('/sign_out'), timeout=30,
                           allow_redirects=False)
    assert response.status_code == 302
    assert requests.get(url('/admin'), timeout=30).status_code == 401
