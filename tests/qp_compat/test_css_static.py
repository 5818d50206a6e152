"""QP compatibility: qp.fill.css and qp.fill.static -> qpd.web.css and
qpd.web.static, one test per entry of docs/qp_api.md. These differ from QP
(README, "Differences from QP"): the tests pin what qpd promises instead,
and that QP's keywords still work."""

import pytest

from qpd.web import css
from qpd.web.profile import Profile
from qpd.web.publish import Publisher
from qpd.web.static import StaticDirectory, StaticFile


def test_css_helpers():
    assert css.rgb_to_hex(css.hex_to_rgb('#336699')) == '#336699'
    assert 'color' in css.rule('p', color='#fff')
    with pytest.raises(ValueError):
        css.rule('p', color='red; } body { display: none')


def serve(root_directory, path):
    publisher = Publisher()
    publisher.set_root_directory(root_directory)
    return Profile(publisher).get(path)


def test_static_file(tmp_path):
    path = tmp_path / 'notes.txt'
    path.write_bytes(b'caf\xc3\xa9')
    static = StaticFile(str(path), mime_type='text/plain', encoding='utf-8',
                        cache_time=60)                  # QP's keywords
    assert static.get_content_type() == 'text/plain'
    response = serve(StaticDirectory(str(tmp_path), cache_time=60),
                     '/notes.txt')
    assert response.get_status_code() == 200
    assert response.get_header('Content-Type').startswith('text/plain')
    assert response.get_header('ETag')


def test_static_directory(tmp_path):
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'a.css').write_text('p {}')
    (tmp_path / '.hidden').write_text('no')
    directory = StaticDirectory(str(tmp_path), follow_symlinks=True)
    response = serve(directory, '/sub/a.css')
    assert b''.join(response.iter_body()) == b'p {}'
    assert serve(directory, '/.hidden').get_status_code() == 404
    assert serve(directory, '/sub/../.hidden').get_status_code() == 404
    (tmp_path / 'sub' / 'start.html').write_text('<p>start</p>')
    indexed = StaticDirectory(str(tmp_path), index_filenames=['start.html'])
    response = serve(indexed, '/sub/')
    assert b''.join(response.iter_body()) == b'<p>start</p>'
