"""QP 1.1's own demo sites (hello, echo, proto), unpacked from QP's
release tarball into a qpd home with nothing changed but their fixed port
numbers (each made a free one), ported with `qpd port` alone, served with
`qpd serve`, and checked page by page over HTTP: hello's page, echo's
request listing at any path, and proto's home page and menu, static files,
robots.txt, the 500 for /exception, the https redirect of /request, Digest
sign-in on the as_https port for a user made with `qpd shell`, the
DurusDirectory at /database/ once signed in, and sign out.

The tarball is QP's, unmodified: `../shared/qp-1.1.tar.gz` from the
repository's root (QP_TARBALL in the environment names another place).
"""

import os
import re
import shutil
import tarfile
import tempfile

import pytest
import requests
from requests.auth import HTTPDigestAuth

from harness import QpSites, port_counts, qpd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TARBALL = os.environ.get('QP_TARBALL') or os.path.normpath(
    os.path.join(ROOT, '..', 'shared', 'qp-1.1.tar.gz'))
SITES = ('hello', 'echo', 'proto')

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(not os.path.exists(TARBALL), reason=(
        'QP 1.1 is not at %s (put qp-1.1.tar.gz there, or name it with '
        'QP_TARBALL)' % TARBALL)),
]


@pytest.fixture(scope='module')
def demo():
    """(sites:QpSites, reports:{name: what qpd port said}): QP's three
    demo sites unpacked, their ports made free ones, ported."""
    home = tempfile.mkdtemp(prefix='qpdemo')    # short: unix socket paths
    unpacked = os.path.join(home, 'unpacked')
    with tarfile.open(TARBALL) as tar:
        tar.extractall(unpacked, [
            m for m in tar.getmembers()
            if re.match(r'[^/]+/demo/(%s)/' % '|'.join(SITES), m.name)],
            filter='data')
    top = os.path.join(unpacked, os.listdir(unpacked)[0], 'demo')
    sites = QpSites(home)
    reports = {}
    try:
        for name in SITES:
            sites.add(name, os.path.join(top, name))
            assert len(sites.ports[name]) >= 4, sites.ports[name]
            reports[name] = sites.port(name)
        yield sites, reports
    finally:
        sites.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_port_alone_converts_them(demo):
    sites, reports = demo
    assert port_counts(reports['hello']) == {
        'compile_qpy_files dropped': 2, 'durus_address dropped': 1,
        'QP imports mapped': 5}
    assert port_counts(reports['echo']) == {
        'compile_qpy_files dropped': 2, 'dict': 1, 'durus_address dropped': 1,
        'idioms': 1, 'QP imports mapped': 4}
    assert port_counts(reports['proto']) == {
        'compile_qpy_files dropped': 2, 'dict': 2, 'durus_address dropped': 1,
        'idioms': 1, 'QP imports mapped': 10}
    assert 'signs in with HTTP Digest' in reports['proto']
    for name in SITES:
        assert '0 line(s) left to edit by hand' in reports[name]
        again = qpd('port', sites.get_package(name), '--diff')
        assert again.returncode == 0 and again.stdout == '', again.stdout


def test_hello(demo):
    sites, reports = demo
    sites.serve('hello')
    response = requests.get(sites.url('hello', '/'), timeout=30)
    assert response.status_code == 200
    assert '<title>hello</title>' in response.text
    assert re.search(r'<body>\s*hello\s*</body>', response.text)
    assert requests.get(sites.url('hello', '/x'),
                        timeout=30).status_code == 404


def test_echo_lists_the_request_at_any_path(demo):
    sites, reports = demo
    sites.serve('echo')
    for path in ('/', '/a/b/c', '/x.html?q=1'):
        response = requests.get(sites.url('echo', path), timeout=30)
        assert response.status_code == 200, (path, response.text[-2000:])
        assert '<title>HTTP Request</title>' in response.text
        assert '<dt>environ</dt>' in response.text
        assert "&#39;PATH_INFO&#39;: &#39;%s&#39;" % path.split('?')[0] in \
            response.text
        keys = re.findall(r'<dt>(\w+)</dt>', response.text)
        assert keys == sorted(keys)         # items.sort(), ported


def test_proto_pages(demo):
    sites, reports = demo
    sites.serve('proto')
    static = os.path.join(sites.get_package('proto'), 'static')
    response = requests.get(sites.url('proto', '/'), timeout=30)
    assert response.status_code == 200
    assert '<title>proto</title>' in response.text
    menu = re.search(r'<ul class="menu">(.*?)</ul>', response.text).group(1)
    assert re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', menu) == [
        ('./', 'Home'), ('./exception', 'Exception'),
        ('./request', 'Request'), ('./database', 'Database')]
    assert '<li class="selected"><a href="./"' in menu
    assert '<p>No sessions.</p>' in response.text

    for path, mime, name in (('/all.css', 'text/css', 'all.css'),
                             ('/favicon.png', 'image/png', 'favicon.png')):
        response = requests.get(sites.url('proto', path), timeout=30)
        assert response.status_code == 200, path
        assert response.headers['Content-Type'].startswith(mime)
        with open(os.path.join(static, name), 'rb') as f:
            assert response.content == f.read()

    response = requests.get(sites.url('proto', '/robots.txt'), timeout=30)
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('text/plain')
    assert response.text == 'User-agent: *\nDisallow: /restricted\n'

    response = requests.get(sites.url('proto', '/exception'), timeout=30)
    assert response.status_code == 500
    # proto's display_exceptions() says True: the traceback is shown.
    assert 'This is an exception.' in response.text
    assert 'slash.qpy' in response.text

    response = requests.get(sites.url('proto', '/request'), timeout=30,
                            allow_redirects=False)
    assert response.status_code in (301, 302)
    assert response.headers['Location'] == 'https://localhost:%d/request' % (
        sites.ports['proto']['https_address'])


def test_proto_digest_sign_in_database_and_sign_out(demo):
    sites, reports = demo
    sites.serve('proto')
    sites.shell('proto', "create_user('admin', 'pass word', admin=True)")

    def secure(path):
        return sites.url('proto', path, 'as_https_address')
    response = requests.get(secure('/request'), timeout=30)
    assert response.status_code == 401      # the handshake
    assert 'Digest realm="proto"' in response.headers['WWW-Authenticate']
    wrong = requests.get(secure('/request'), timeout=30,
                         auth=HTTPDigestAuth('admin', 'wrong'))
    assert wrong.status_code == 401

    browser = requests.Session()
    browser.auth = HTTPDigestAuth('admin', 'pass word')
    response = browser.get(secure('/request'), timeout=30)
    assert response.status_code == 200, response.text[-2000:]
    assert '<dl class="dict">' in response.text
    assert 'Sign admin out.' in response.text
    assert '<li class="selected"><a href="./request"' in response.text

    response = browser.get(secure('/database/'), timeout=30)
    assert response.status_code == 200, response.text[-2000:]
    assert 'PersistentDict 0' in response.text
    link = re.search(r"<th><code>&#39;users&#39;</code></th><td>"
                     r'<a class="durus-ref" href="(\d+/)">', response.text)
    assert link, response.text
    response = browser.get(secure('/database/' + link.group(1)), timeout=30)
    assert response.status_code == 200 and 'admin' in response.text

    response = browser.get(secure('/sign_out'), timeout=30,
                           allow_redirects=False)
    assert response.status_code in (302, 303)
    # Without allowed_hosts the Location is site-relative (issue 27 #8),
    # never built on the client's Host.
    assert response.headers['Location'] == '/'
    response = requests.get(secure('/database/'), timeout=30)
    assert response.status_code == 401      # signed out: asked again
