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
import subprocess
import sys
import tarfile
import tempfile
import shutil

import pytest
import requests
from requests.auth import HTTPDigestAuth

from harness import Cluster, free_port

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

# `name=('host', 8002)` in a demo site's configuration: the port number is
# the one thing changed.
_ADDRESS = re.compile(r"(?P<key>\w+_address)=\((?P<host>'[^']*'), "
                      r"(?P<port>\d+)\)")


def qpd(*args, **kwargs):
    return subprocess.run([sys.executable, '-m', 'qpd'] + list(args),
                          capture_output=True, text=True, timeout=120,
                          **kwargs)


def unpack_demo_sites(home):
    """Unpack QP's demo/NAME directories into home/sites/NAME; give each
    address a free port. -> {name: {address key: port}}"""
    with tarfile.open(TARBALL) as tar:
        members = [m for m in tar.getmembers()
                   if re.match(r'[^/]+/demo/(%s)/' % '|'.join(SITES), m.name)]
        tar.extractall(os.path.join(home, 'unpacked'), members,
                       filter='data')
    top = os.listdir(os.path.join(home, 'unpacked'))[0]
    ports = {}
    for name in SITES:
        package = os.path.join(home, 'sites', name)
        shutil.copytree(os.path.join(home, 'unpacked', top, 'demo', name),
                        package)
        path = os.path.join(package, 'slash.qpy')
        with open(path, encoding='utf-8') as f:
            text = f.read()
        ports[name] = {}

        def new_port(match):
            port = free_port()
            ports[name][match.group('key')] = port
            return '%s=(%s, %d)' % (match.group('key'), match.group('host'),
                                    port)
        changed = _ADDRESS.sub(new_port, text)
        assert len(ports[name]) >= 4, (name, ports[name])
        with open(path, 'w', encoding='utf-8') as f:
            f.write(changed)
    return ports


@pytest.fixture(scope='module')
def demo():
    """(home, ports, reports, serve): the three sites unpacked and ported;
    serve(name) starts one with `qpd serve` (once) and returns its
    Cluster."""
    home = tempfile.mkdtemp(prefix='qpdemo')    # short: unix socket paths
    os.makedirs(os.path.join(home, 'sites'))
    ports = unpack_demo_sites(home)
    reports = {}
    for name in SITES:
        result = qpd('port', os.path.join(home, 'sites', name))
        assert result.returncode == 0, result.stderr
        reports[name] = result.stderr
    clusters = {}

    def serve(name):
        if name not in clusters:
            cluster = clusters[name] = Cluster(home, name)
            cluster.start_serve(workers=1)
        return clusters[name]
    try:
        yield home, ports, reports, serve
    finally:
        for cluster in clusters.values():
            cluster.stop_all()
        shutil.rmtree(home, ignore_errors=True)


def summary(report):
    """The counts of `qpd port`'s last line: {what: n}"""
    line = report.strip().splitlines()[-1]
    converted = line.split('converted: ', 1)[1].split(';')[0]
    return {what: int(n) for what, n in
            (item.rsplit(' ', 1) for item in converted.split(', '))}


def test_port_alone_converts_them(demo):
    home, ports, reports, serve = demo
    assert summary(reports['hello']) == {
        'compile_qpy_files dropped': 2, 'durus_address dropped': 1,
        'imports mapped': 5}
    assert summary(reports['echo']) == {
        'compile_qpy_files dropped': 2, 'dict': 1, 'durus_address dropped': 1,
        'idioms': 1, 'imports mapped': 4}
    assert summary(reports['proto']) == {
        'compile_qpy_files dropped': 2, 'dict': 2, 'durus_address dropped': 1,
        'idioms': 1, 'imports mapped': 10}
    assert 'signs in with HTTP Digest' in reports['proto']
    for name in SITES:
        assert '0 line(s) left to edit by hand' in reports[name]
        again = qpd('port', os.path.join(home, 'sites', name), '--diff')
        assert again.returncode == 0 and again.stdout == '', again.stdout


def url(ports, name, path, key='http_address'):
    return 'http://127.0.0.1:%d%s' % (ports[name][key], path)


def test_hello(demo):
    home, ports, reports, serve = demo
    serve('hello')
    response = requests.get(url(ports, 'hello', '/'), timeout=30)
    assert response.status_code == 200
    assert '<title>hello</title>' in response.text
    assert re.search(r'<body>\s*hello\s*</body>', response.text)
    assert requests.get(url(ports, 'hello', '/x'),
                        timeout=30).status_code == 404


def test_echo_lists_the_request_at_any_path(demo):
    home, ports, reports, serve = demo
    serve('echo')
    for path in ('/', '/a/b/c', '/x.html?q=1'):
        response = requests.get(url(ports, 'echo', path), timeout=30)
        assert response.status_code == 200, (path, response.text[-2000:])
        assert '<title>HTTP Request</title>' in response.text
        assert '<dt>environ</dt>' in response.text
        assert "&#39;PATH_INFO&#39;: &#39;%s&#39;" % path.split('?')[0] in \
            response.text
        keys = re.findall(r'<dt>(\w+)</dt>', response.text)
        assert keys == sorted(keys)         # items.sort(), ported


def test_proto_pages(demo):
    home, ports, reports, serve = demo
    serve('proto')
    static = os.path.join(home, 'sites', 'proto', 'static')
    response = requests.get(url(ports, 'proto', '/'), timeout=30)
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
        response = requests.get(url(ports, 'proto', path), timeout=30)
        assert response.status_code == 200, path
        assert response.headers['Content-Type'].startswith(mime)
        with open(os.path.join(static, name), 'rb') as f:
            assert response.content == f.read()

    response = requests.get(url(ports, 'proto', '/robots.txt'), timeout=30)
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('text/plain')
    assert response.text == 'User-agent: *\nDisallow: /restricted\n'

    response = requests.get(url(ports, 'proto', '/exception'), timeout=30)
    assert response.status_code == 500

    response = requests.get(url(ports, 'proto', '/request'), timeout=30,
                            allow_redirects=False)
    assert response.status_code in (301, 302)
    assert response.headers['Location'] == 'https://localhost:%d/request' % (
        ports['proto']['https_address'])


def test_proto_digest_sign_in_database_and_sign_out(demo):
    home, ports, reports, serve = demo
    serve('proto')
    made = qpd('--home', home, 'shell', 'proto', '-c',
               "create_user('admin', 'pass word', admin=True)")
    assert made.returncode == 0, made.stdout + made.stderr

    def secure(path):
        return url(ports, 'proto', path, 'as_https_address')
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
    assert response.headers['Location'].endswith(':%d/' % (
        ports['proto']['as_https_address']))
    response = requests.get(secure('/database/'), timeout=30)
    assert response.status_code == 401      # signed out: asked again
