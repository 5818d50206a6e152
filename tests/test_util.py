"""qpd.lib.util."""

import os.path

import pytest

from qpd.lib.util import (
    as_bytes, as_str, ensure_list, format_bytes, import_object, make_token,
    randbytes)


def test_randbytes():
    token = randbytes(16)
    assert len(token) == 32
    int(token, 16)
    assert randbytes(16) != token
    assert randbytes(0) == ''


def test_make_token():
    token = make_token()
    assert len(token) >= 21
    assert all(c.isalnum() or c in '-_' for c in token)
    assert make_token() != token
    assert len(make_token(32)) > len(token)


def test_import_object():
    assert import_object('os.path.join') is os.path.join
    assert import_object('os.path') is os.path
    assert import_object('os.path:join') is os.path.join
    assert import_object('collections.OrderedDict.fromkeys') == \
        __import__('collections').OrderedDict.fromkeys
    assert import_object('qpd.lib.util:import_object') is import_object
    with pytest.raises(ImportError):
        import_object('os.path.no_such_name')
    with pytest.raises(ImportError):
        import_object('no_such_module_here.x')


def test_import_object_does_not_hide_broken_imports(tmp_path, monkeypatch):
    (tmp_path / 'broken_for_qpd_test.py').write_text(
        'import missing_dependency_for_qpd_test\nx = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        import_object('broken_for_qpd_test.x')
    assert info.value.name == 'missing_dependency_for_qpd_test'


def test_ensure_list():
    items = [1]
    assert ensure_list(items) is items
    assert ensure_list(None) == []
    assert ensure_list('ab') == ['ab']
    assert ensure_list(b'ab') == [b'ab']
    assert ensure_list((1, 2)) == [1, 2]
    assert ensure_list(x for x in 'ab') == ['a', 'b']
    assert ensure_list({'a': 1}) == [{'a': 1}]
    assert ensure_list(3) == [3]


def test_format_bytes():
    assert format_bytes(0) == '0 bytes'
    assert format_bytes(1) == '1 byte'
    assert format_bytes(1023) == '1023 bytes'
    assert format_bytes(1536) == '1.5 KB'
    assert format_bytes(5 * 1024 ** 2) == '5.0 MB'
    assert format_bytes(3 * 1024 ** 4) == '3.0 TB'
    assert format_bytes(2 * 1024 ** 6) == '2048.0 PB'


def test_as_str_and_as_bytes():
    assert as_str(b'caf\xc3\xa9') == 'café'
    assert as_str('x') == 'x'
    assert as_bytes('café') == b'caf\xc3\xa9'
    assert as_bytes(b'x') == b'x'
