"""The WSGI app served by a real WSGI server (gunicorn) answers the same
bytes as Profile, apart from the headers the server adds."""

import socket
from urllib.parse import urlsplit

from qpd.web.profile import Profile, format_response
from qpd.web.wsgi import make_app

SERVER_HEADERS = (b'server', b'date', b'connection')


def _fetch(base_url, method, target, headers=(), body=b''):
    """A raw HTTP/1.1 exchange: the bytes the server sent."""
    parts = urlsplit(base_url)
    lines = ['%s %s HTTP/1.1' % (method, target), 'Host: ' + parts.netloc,
             'Connection: close'] + ['%s: %s' % item for item in headers]
    with socket.create_connection((parts.hostname, parts.port), 10) as sock:
        sock.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')
                     + body)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b''.join(chunks)


def _without_server_headers(raw):
    head, _, body = raw.partition(b'\r\n\r\n')
    lines = head.split(b'\r\n')
    kept = [lines[0]] + [line for line in lines[1:]
                         if line.split(b':')[0].lower() not in SERVER_HEADERS]
    return b'\r\n'.join(kept) + b'\r\n\r\n' + body


def test_gunicorn_answers_the_same_bytes_as_profile(publish_site, serve_wsgi):
    url = serve_wsgi(publish_site)
    host = urlsplit(url).netloc
    profile = Profile(publish_site, host=host)
    cases = [('GET', '/', ()), ('GET', '/page', ()), ('GET', '/missing', ()),
             ('GET', '/go?x=1', ()), ('GET', '/value', ()),
             ('GET', '/big', ()), ('GET', '/big', (('Accept-Encoding',
                                                     'gzip'),)),
             ('HEAD', '/', ()), ('GET', '/%ff', ()),
             ('POST', '/put', (('Content-Type',
                                'application/x-www-form-urlencoded'),
                               ('Content-Length', '7')))]
    for method, target, headers in cases:
        body = b'value=x' if method == 'POST' else None
        expected = format_response(profile.request(
            method, target, headers={k: v for k, v in headers
                                     if not k.startswith('Content')},
            body=body, content_type=dict(headers).get('Content-Type')))
        raw = _fetch(url, method, target, headers, body or b'')
        assert _without_server_headers(raw) == expected, target


def test_make_app_with_a_publisher(publish_site):
    publisher = publish_site.make_publisher()
    app = make_app(publisher)
    assert app.get_publisher() is publisher
    seen = {}

    def start_response(status, headers):
        seen['status'] = status
        seen['headers'] = headers
    import io
    environ = Profile(publisher).make_environ('GET', '/')
    environ['wsgi.input'] = io.BytesIO()
    body = b''.join(app(environ, start_response))
    assert seen['status'] == '200 OK' and body == b'Hello, world!'
    assert ('Content-Length', '13') in seen['headers']
