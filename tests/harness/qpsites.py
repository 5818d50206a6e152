"""QP sites in a qpd home: copied in, their fixed ports made free ones,
ported with `qpd port`, served with `qpd serve`.

    sites = QpSites(home)
    sites.add('proto', source_directory)    # copied to home/sites/proto
    report = sites.port('proto')            # `qpd port` (exit 0 asserted)
    cluster = sites.serve('proto')          # `qpd serve` (once), a Cluster
    sites.url('proto', '/request', 'as_https_address')
    sites.stop()

A QP site names its addresses in its SitePublisher's configuration, as
`key=('host', port)` or `'key': ('host', port)`: add changes nothing but
the port numbers, each to a free one (sites.ports[name][key]).
"""

import os
import re
import shutil
import subprocess
import sys

from harness.cluster import Cluster
from harness.processes import free_port

_ADDRESS = re.compile(
    r"""(?P<key>\b\w+_address['"]?\s*[=:]\s*\(\s*'[^']*'\s*,\s*)"""
    r"""(?P<port>\d+)(?P<end>\s*\))""")


def qpd(*args, **kwargs):
    """(*args, **kwargs) -> CompletedProcess of `python -m qpd args...`"""
    return subprocess.run([sys.executable, '-m', 'qpd'] + list(args),
                          capture_output=True, text=True, timeout=120,
                          **kwargs)


def port_counts(report):
    """(report:str) -> {what: n}: the counts of `qpd port`'s last line"""
    line = report.strip().splitlines()[-1]
    converted = line.split('converted: ', 1)[1].split(';')[0]
    if converted == 'nothing':
        return {}
    return {what: int(n) for what, n in
            (item.rsplit(' ', 1) for item in converted.split(', '))}


class QpSites:
    """(home:str) QP sites under home/sites, served on demand."""

    def __init__(self, home):
        self.home = home
        self.ports = {}
        self.clusters = {}
        os.makedirs(os.path.join(home, 'sites'), exist_ok=True)

    def get_package(self, name):
        return os.path.join(self.home, 'sites', name)

    def add(self, name, source):
        """(name:str, source:str) -> None: source copied in as the site
        name, every address given a free port."""
        package = self.get_package(name)
        shutil.copytree(source, package,
                        ignore=shutil.ignore_patterns('__pycache__'))
        ports = self.ports[name] = {}
        path = os.path.join(package, 'slash.qpy')
        with open(path, encoding='utf-8') as f:
            text = f.read()

        def new_port(match):
            key = match.group('key').split('_address')[0] + '_address'
            ports[key] = free_port()
            return '%s%d%s' % (match.group('key'), ports[key],
                               match.group('end'))
        with open(path, 'w', encoding='utf-8') as f:
            f.write(_ADDRESS.sub(new_port, text))

    def port(self, name, *args):
        """(name:str, *args) -> str: what `qpd port` said on stderr (its
        exit status 0 is asserted)"""
        result = qpd('port', self.get_package(name), *args)
        assert result.returncode == 0, result.stderr
        return result.stderr

    def serve(self, name, workers=1):
        """(name:str, workers=1) -> Cluster: the site under `qpd serve`"""
        if name not in self.clusters:
            cluster = Cluster(self.home, name)
            self.clusters[name] = cluster
            cluster.start_serve(workers=workers)
        return self.clusters[name]

    def shell(self, name, code):
        """(name:str, code:str) -> None: `qpd shell NAME -c code`"""
        result = qpd('--home', self.home, 'shell', name, '-c', code)
        assert result.returncode == 0, result.stdout + result.stderr

    def url(self, name, path, key='http_address'):
        """(name, path, key='http_address') -> str on 127.0.0.1"""
        return 'http://127.0.0.1:%d%s' % (self.ports[name][key], path)

    def stop(self):
        """() -> None: every site served stopped"""
        for cluster in self.clusters.values():
            cluster.stop_all()
        self.clusters.clear()
