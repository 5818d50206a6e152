"""Which storage the site tests run on: QPD_TEST_STORAGE.

    QPD_TEST_STORAGE=postgresql .venv/bin/python -m pytest tests/test_session.py

`file` (the default) changes nothing: each test's StorageServer serves a
new Durus file, as it always did. `postgresql` puts the same tests on a
fresh database of the session's PostgreSQL cluster (the `postgres`
fixture of harness.postgres, the one owner of the cluster; nothing here
starts one), so that a site switched to `durus_storage='postgresql'` is
shown to serve the same pages with the same tests passing. What switches:

- the fixtures `durus_server` and `durus_server_factory`
  (tests/conftest.py): each server gets `dsn=` a new database;
- `make_site`: the site's configuration gets `durus_storage` and
  `durus_dsn` (the database of the test server at its `durus_address`,
  or a new one), unless the test names `durus_storage` itself;
- `make_home` (harness.cluster) with its own SLASH, and `QpdHome.new`
  (harness.home): the site's configuration gets the same two keys, so
  `qpd durus`, `qpd serve` and `qpd start` serve PostgreSQL.

What does not: a site whose slash source a test wrote itself (make_home's
`slash=`) keeps the configuration the test put in it, and `DurusServer`
used directly serves a file unless given `dsn=`; both are the test's own
choice. A test that opens the Durus file itself (a path, its bytes, a
FileStorage) cannot apply on PostgreSQL: mark it
`@pytest.mark.file_storage('why')` and it is skipped under the switch,
with that reason, before its fixtures are set up.

The autouse session fixture that hands the cluster over (`_test_storage`
in tests/conftest.py, calling `use_cluster`) asks for `postgres` only
under the switch, so the default run starts no cluster it does not need;
a value other than the two is a usage error of the run.
"""

import os

from harness.processes import HarnessError

__all__ = ['STORAGES', 'get_storage', 'is_postgresql', 'use_cluster',
           'new_dsn', 'server_dsn', 'site_configuration', 'serving',
           'served']

STORAGES = ('file', 'postgresql')

_cluster = []       # the session's PostgresCluster, under the switch
_served = {}        # a test server's address -> the dsn it serves


def get_storage():
    """() -> str: QPD_TEST_STORAGE, 'file' when unset; HarnessError
    naming the choices for anything else."""
    storage = os.environ.get('QPD_TEST_STORAGE', '') or 'file'
    if storage not in STORAGES:
        raise HarnessError('QPD_TEST_STORAGE=%r: use one of %s' % (
            storage, ', '.join(STORAGES)))
    return storage


def is_postgresql():
    """() -> bool: do the site tests run on PostgreSQL?"""
    return get_storage() == 'postgresql'


def use_cluster(cluster):
    """(cluster:PostgresCluster) -> None: the cluster that new databases
    are made in (the session's `postgres`)."""
    _cluster[:] = [cluster]


def new_dsn():
    """() -> str: a new database's dsn in the session's cluster;
    HarnessError when no cluster was handed over (outside pytest, or
    without tests/conftest.py)."""
    if not _cluster:
        raise HarnessError('QPD_TEST_STORAGE=postgresql, but no PostgreSQL '
                           'cluster was handed over (harness.storage.'
                           'use_cluster; tests/conftest.py does it)')
    return _cluster[0].new_database('qpd_site')


def server_dsn():
    """() -> str|None: the dsn a new test StorageServer serves (a new
    database), or None for a Durus file."""
    return new_dsn() if is_postgresql() else None


def serving(address, dsn):
    """(address, dsn:str|None) -> None: a test StorageServer at address
    serves dsn (None: it is stopped, or serves a file)."""
    key = _key(address)
    if dsn is None:
        _served.pop(key, None)
    else:
        _served[key] = dsn


def served(address):
    """(address) -> str|None: the dsn the test StorageServer at address
    serves, if one does."""
    return _served.get(_key(address))


def _key(address):
    if isinstance(address, (list, tuple)):
        return tuple(address)
    return address


def site_configuration(configuration=None):
    """(configuration:dict=None) -> dict: the keys to add to a test site's
    configuration: none on file storage, or when configuration names
    durus_storage itself; else durus_storage='postgresql' and durus_dsn,
    the database of the test server at configuration's durus_address when
    there is one, a new database otherwise."""
    configuration = configuration or {}
    if not is_postgresql() or 'durus_storage' in configuration:
        return {}
    dsn = served(configuration.get('durus_address')) or new_dsn()
    return {'durus_storage': 'postgresql', 'durus_dsn': dsn}
