"""Unit tests of qpd.ops.supervisor: the configuration files supervisord
reads (validated by supervisor's own parser), without starting it."""

import os
import itertools

import pytest

from qpd.ops.newsite import create_site
from qpd.ops.supervisor import (Supervisor, get_program_names,
                                make_main_conf,
                                get_qpd_command)

_names = itertools.count()


def _site(home, max_children=None):
    name = 'supsite_%d_%d' % (os.getpid(), next(_names))
    site = create_site(name, str(home), first_port=21000)
    if max_children:
        path = os.path.join(site.get_package_directory(), 'slash.qpy')
        text = open(path).read().replace(
            'max_children=2', 'max_children=%d' % max_children)
        open(path, 'w').write(text)
        from qpd.site import Site
        site = Site(name, str(home))
    return site


def _parse(conf_file):
    """supervisord's own parser: -> {group name: [process names]}"""
    from supervisor.options import ServerOptions
    options = ServerOptions()
    options.realize(['-c', conf_file])
    return options, {
        group.name: [p.name for p in group.process_configs]
        for group in options.process_group_configs}


def test_main_conf_is_a_private_unix_socket(tmp_path):
    supervisor = Supervisor(str(tmp_path))
    text = make_main_conf(supervisor)
    assert '[unix_http_server]' in text
    assert 'chmod = 0700' in text
    assert 'inet_http_server' not in text
    assert 'supervisord.conf.d/*.conf' in text
    assert supervisor.get_socket_path().startswith(str(tmp_path))


def test_long_home_gets_a_short_socket(tmp_path):
    home = tmp_path / ('x' * 120)
    supervisor = Supervisor(str(home))
    assert len(supervisor.get_socket_path()) <= 100


def test_site_conf_parses_and_orders_programs(tmp_path):
    site = _site(tmp_path, max_children=3)
    supervisor = Supervisor(str(tmp_path))
    assert supervisor.write_site_conf(site) is True
    assert supervisor.write_site_conf(site) is False     # unchanged
    options, groups = _parse(supervisor.get_conf_file())
    name = site.get_name()
    assert sorted(groups[name]) == sorted(
        ['durus', 'dispatcher', 'worker_00', 'worker_01', 'worker_02'])
    assert get_program_names(site) == [
        'durus', 'dispatcher', 'worker_00', 'worker_01', 'worker_02']
    configs = {p.name: p for g in options.process_group_configs
               for p in g.process_configs}
    assert configs['durus'].priority < configs['dispatcher'].priority
    assert configs['dispatcher'].priority < configs['worker_00'].priority
    for config in configs.values():
        assert config.stopasgroup and config.killasgroup
        assert config.stopwaitsecs > 30
        assert config.stdout_logfile.startswith(site.get_var_directory())
        assert '--home' in config.command and str(tmp_path) in config.command
        assert name in config.command
    assert 'worker %s --index 2' % name in configs['worker_02'].command
    assert configs['durus'].command.split()[0] == get_qpd_command()[0]
    assert supervisor.get_site_names() == [name]
    assert supervisor.remove_site_conf(name) is True
    assert supervisor.remove_site_conf(name) is False
    assert supervisor.get_site_names() == []


def test_percent_in_home_is_refused(tmp_path):
    from qpd.ops.errors import OperationError
    with pytest.raises(OperationError, match="has a '%' in its path"):
        Supervisor(str(tmp_path / 'a%b'))


def test_not_running(tmp_path):
    supervisor = Supervisor(str(tmp_path))
    assert not supervisor.is_running()
    assert supervisor.get_pid() is None
    assert supervisor.shutdown() is False
    from qpd.ops.errors import OperationError
    with pytest.raises(OperationError):
        supervisor.get_group_names()
