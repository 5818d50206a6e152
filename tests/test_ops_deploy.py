"""qpd.ops.deploy on a site that is not running: the release layout, the
atomic switch, the refusal of a broken release, rollback and pruning."""

import os

import pytest

from qpd.ops import deploy as deploying
from qpd.ops.errors import OperationError
from qpd.site import Site

SLASH = '''\
from qpd.web.publish import Publisher
from qpd.web.directory import Directory

TEXT = %r


class SitePublisher(Publisher):
    configuration = dict(http_address=('127.0.0.1', 8765))


class SiteDirectory(Directory):
    pass
'''


def write_site(directory, text, broken=False):
    os.makedirs(directory, exist_ok=True)
    open(os.path.join(directory, '__init__.py'), 'w').close()
    source = SLASH % text
    if broken:
        source += 'def broken:xml(\n'
    with open(os.path.join(directory, 'slash.qpy'), 'w') as f:
        f.write(source)


@pytest.fixture
def site(tmp_path):
    home = tmp_path / 'home'
    write_site(str(home / 'sites' / 'hello'), 'one')
    var = home / 'sites' / 'hello' / 'var'
    var.mkdir()
    (var / 'hello.durus').write_bytes(b'data')
    return Site('hello', home=str(home))


def test_deploy_rollback_and_layout(site, tmp_path, monkeypatch):
    monkeypatch.setattr(deploying, '_new_name',
                        _counting_names(deploying._new_name))
    assert deploying.get_current_release(site) is None
    write_site(str(tmp_path / 'two'), 'two')
    (tmp_path / 'two' / 'var').mkdir()                  # never copied
    (tmp_path / 'two' / 'var' / 'junk').write_text('x')
    name = deploying.deploy(site, str(tmp_path / 'two'))
    package = site.get_package_directory()
    releases = deploying.get_releases_directory(site)
    assert os.path.islink(package)
    assert deploying.get_current_release(site) == name
    assert os.readlink(package) == os.path.join('..', 'releases', 'hello',
                                                name)
    # One var directory, shared: the database moved there with the first
    # deploy, and every release links to it.
    assert open(os.path.join(package, 'var', 'hello.durus'),
                'rb').read() == b'data'
    assert os.path.realpath(os.path.join(package, 'var')) == \
        os.path.join(releases, 'var')
    assert not os.path.exists(os.path.join(releases, 'var', 'junk'))
    initial = [n for n in deploying.list_releases(site)
               if n.endswith('-initial')]
    assert len(initial) == 1
    assert "TEXT = 'two'" in open(os.path.join(package, 'slash.qpy')).read()

    assert deploying.rollback(site) == initial[0]
    assert "TEXT = 'one'" in open(os.path.join(package, 'slash.qpy')).read()
    assert deploying.rollback(site) == name         # and back again


def test_broken_release_is_refused_and_nothing_changes(site, tmp_path):
    write_site(str(tmp_path / 'bad'), 'bad', broken=True)
    with pytest.raises(OperationError) as info:
        deploying.deploy(site, str(tmp_path / 'bad'))
    assert 'release refused' in str(info.value)
    assert any('slash.qpy", line' in line
               for line in info.value.get_details())
    assert not os.path.islink(site.get_package_directory())
    assert deploying.list_releases(site) == []
    assert [n for n in os.listdir(deploying.get_releases_directory(site))
            if n.startswith('.staging')] == []


def test_not_a_site_package(site, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(OperationError):
        deploying.deploy(site, str(tmp_path / 'empty'))


def test_rollback_needs_an_earlier_release(site):
    with pytest.raises(OperationError):
        deploying.rollback(site)


def test_old_releases_are_pruned(site, tmp_path, monkeypatch):
    monkeypatch.setattr(deploying, '_new_name',
                        _counting_names(deploying._new_name))
    write_site(str(tmp_path / 'next'), 'next')
    for _ in range(deploying.KEEP + 2):
        deploying.deploy(site, str(tmp_path / 'next'))
    kept = deploying.list_releases(site)
    assert len(kept) == deploying.KEEP + 1
    assert deploying.get_current_release(site) in kept


def _counting_names(new_name):
    """Release names that differ within one second."""
    count = [0]

    def name(site, suffix=''):
        count[0] += 1
        return '%s-%03d%s' % (new_name(site), count[0], suffix)
    return name
