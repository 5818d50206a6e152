"""The bench site: /hello, /read, /page, /write, /count and
/static/100k.bin.

The harness copies this package to HOME/sites/bench and writes
`bench.json` beside it with the addresses and the worker count of the run;
without that file the site listens on 127.0.0.1:8765 with 2 workers.
"""

import json
import os

from qpd.web.common import get_connection
from qpd.web.directory import Directory
from qpd.web.publish import Publisher
from qpd.web.static import StaticDirectory

from .page import row_table

__all__ = ['SitePublisher', 'SiteDirectory', 'READ_COUNT']

HERE = os.path.dirname(os.path.abspath(__file__))
READ_COUNT = 5      # persistent items each /read loads


def _load_settings():
    """() -> dict: bench.json written by the harness, or {}."""
    try:
        with open(os.path.join(HERE, 'bench.json')) as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


_settings = _load_settings()


class SitePublisher(Publisher):

    configuration = dict(
        http_address=tuple(_settings.get('http_address',
                                         ('127.0.0.1', 8765))),
        max_children=_settings.get('workers', 2),
    )
    if _settings.get('durus_address'):
        configuration['durus_address'] = _settings['durus_address']
    for _key in ('coalesce_syncs', 'slow_hit_seconds', 'durus_storage',
                 'durus_dsn', 'access_log_format'):
        if _key in _settings:
            configuration[_key] = _settings[_key]


class SiteDirectory(Directory):

    static = StaticDirectory(os.path.join(HERE, 'static'))

    def get_exports(self):
        yield ('', 'index', None, None)
        yield ('hello', 'hello', 'hello', None)
        yield ('read', 'read', 'read', None)
        yield ('page', 'page', 'page', None)
        yield ('write', 'write', 'write', None)
        yield ('count', 'count', 'count', None)
        yield ('static', 'static', 'static', None)

    def index(self):
        return ('bench site: /hello /read /page /write /count '
                '/static/100k.bin\n')

    def hello(self):
        return 'hello'

    def read(self):
        """Loads READ_COUNT persistent items (the publisher has synced the
        connection at the start of the hit)."""
        items = get_connection().get_root()['bench_items']
        titles = [items[number].get_title() for number in range(READ_COUNT)]
        return ', '.join(titles)

    def page(self):
        """The realistic page: the 100 rows of root['bench_rows'] (loaded
        from the connection's cache once warm) as an HTML table rendered
        by a qpy template."""
        rows = get_connection().get_root()['bench_rows']
        return row_table([rows[number] for number in range(len(rows))])

    def write(self):
        """Increments the shared counter; the publisher commits (and retries
        on conflict)."""
        counter = get_connection().get_root()['bench_counter']
        return str(counter.increment())

    def count(self):
        return str(get_connection().get_root()['bench_counter'].get_count())
