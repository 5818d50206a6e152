"""Tests for the .qpy import hook (qpd.qpy.importer)."""

import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import qpd
from qpd.qpy import xml
from qpd.qpy import importer
from qpd.qpy.importer import QpyFinder, QpyLoader, get_cache_path

SAMPLES = Path(__file__).parent / 'qpy_samples'


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A directory on sys.path; modules imported from it are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture
def write_bytecode(monkeypatch):
    monkeypatch.setattr(sys, 'dont_write_bytecode', False)


def write(path: Path, text: str):
    path.write_text(text)
    # A fresh mtime is not needed (the cache is keyed by a digest), but keep
    # importlib's own directory caches honest.
    importlib.invalidate_caches()


def test_importing_qpd_installs_the_finder():
    assert QpyFinder in sys.meta_path
    importer.install()
    assert sys.meta_path.count(QpyFinder) == 1


def test_fresh_interpreter_imports_qpd_and_a_qpy_module(tmp_path):
    shutil.copy(SAMPLES / 'sample.qpy', tmp_path / 'fresh_sample.qpy')
    code = ('import qpd, qpd.qpy, fresh_sample; '
            'print(fresh_sample.row("<x>"), end="")')
    environment = dict(os.environ, PYTHONPATH=str(tmp_path))
    result = subprocess.run([sys.executable, '-c', code], env=environment,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '<li class="&lt;x&gt;">&lt;x&gt;</li>\n'


def test_sample_module_renders_with_quoting(site):
    shutil.copy(SAMPLES / 'sample.qpy', site / 'sample_one.qpy')
    import sample_one
    assert isinstance(sample_one.__loader__, QpyLoader)
    assert sample_one.__file__ == str(site / 'sample_one.qpy')
    assert sample_one.__doc__ == 'A sample .qpy module for the import hook tests.'
    page = sample_one.page('Tom & Jerry', ['<a>', 'b"'])
    assert type(page) is xml
    assert page == (
        '<html><head><title>Tom &amp; Jerry</title></head><body>\n'
        '<ul>\n'
        '<li class="&lt;a&gt;">&lt;a&gt;</li>\n'
        '<li class="b&#34;">b&#34;</li>\n'
        '</ul>\n'
        '<hr>'
        '</body></html>\n')
    text = sample_one.text('Tom & Jerry', ['<a>'])
    assert type(text) is str
    assert text == '# Tom & Jerry\n- <a>\n'


def test_py_module_wins_over_qpy_module(site):
    write(site / 'both.py', 'KIND = "py"\n')
    write(site / 'both.qpy', 'KIND = "qpy"\n')
    import both
    assert both.KIND == 'py'


def test_qpy_module_in_a_package(site):
    package = site / 'qpy_package'
    package.mkdir()
    write(package / '__init__.py', '')
    write(package / 'pages.qpy', 'def hello:xml(name):\n    "<b>"\n    name\n    "</b>"\n')
    from qpy_package import pages
    assert pages.__name__ == 'qpy_package.pages'
    assert pages.hello('<') == '<b>&lt;</b>'


def test_missing_module_is_still_an_import_error(site):
    with pytest.raises(ModuleNotFoundError):
        import no_such_qpy_module  # noqa: F401


def test_code_is_cached_beside_the_source(site, write_bytecode, monkeypatch):
    write(site / 'cached.qpy', 'def f:xml():\n    "<one>"\n')
    import cached
    assert cached.f() == '<one>'
    cache = Path(get_cache_path(str(site / 'cached.qpy')))
    assert cache.parent == site / '__pycache__'
    assert cache.name.startswith('cached.qpy.')
    assert cache.name != Path(importlib.util.cache_from_source(str(site / 'cached.py'))).name
    assert cache.read_bytes().startswith(importlib.util.MAGIC_NUMBER)

    def no_compiling(*args, **kwargs):
        raise AssertionError('compiled again although the cache is fresh')

    monkeypatch.setattr(importer, 'compile_qpy', no_compiling)
    del sys.modules['cached']
    import cached as again
    assert again.f() == '<one>'


def test_changed_source_is_compiled_again(site, write_bytecode):
    path = site / 'changing.qpy'
    write(path, 'def f:xml():\n    "<one>"\n')
    import changing
    assert changing.f() == '<one>'
    write(path, 'def f:xml():\n    "<two>"\n')  # same size, maybe same mtime
    changing = importlib.reload(changing)
    assert changing.f() == '<two>'
    del sys.modules['changing']
    import changing
    assert changing.f() == '<two>'


def test_damaged_cache_is_replaced(site, write_bytecode):
    path = site / 'damaged.qpy'
    write(path, 'def f:xml():\n    "<ok>"\n')
    loader = QpyLoader('damaged', str(path))
    loader.get_code('damaged')
    cache = Path(get_cache_path(str(path)))
    cache.write_bytes(cache.read_bytes()[:40])
    import damaged
    assert damaged.f() == '<ok>'
    assert len(cache.read_bytes()) > 40


def test_no_cache_written_when_bytecode_writing_is_off(site, monkeypatch):
    monkeypatch.setattr(sys, 'dont_write_bytecode', True)
    write(site / 'uncached.qpy', 'def f:xml():\n    "<p>"\n')
    import uncached
    assert uncached.f() == '<p>'
    assert not Path(get_cache_path(str(site / 'uncached.qpy'))).exists()


def test_syntax_error_names_the_qpy_file_and_line(site):
    path = site / 'broken_module.qpy'
    write(path, 'def f:xml():\n    "<p>"\n\ndef g:str(:\n    pass\n')
    with pytest.raises(SyntaxError) as info:
        import broken_module  # noqa: F401
    assert info.value.filename == str(path)
    assert info.value.lineno == 4


def test_tracebacks_point_at_qpy_lines(site):
    shutil.copy(SAMPLES / 'sample.qpy', site / 'sample_two.qpy')
    import sample_two
    with pytest.raises(ZeroDivisionError) as info:
        sample_two.broken(0)
    frame = traceback.extract_tb(info.tb)[-1]
    assert frame.filename == str(site / 'sample_two.qpy')
    assert frame.name == 'broken'
    assert frame.line == '1 / divisor'
    lines = (site / 'sample_two.qpy').read_text().splitlines()
    assert lines[frame.lineno - 1].strip() == '1 / divisor'


def test_loader_gives_the_source(site):
    shutil.copy(SAMPLES / 'sample.qpy', site / 'sample_three.qpy')
    import sample_three
    source = sample_three.__loader__.get_source('sample_three')
    assert 'def page:xml(title, items):' in source
