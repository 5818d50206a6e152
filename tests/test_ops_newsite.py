"""qpd new: copying the proto site with free ports."""

import os
import itertools
import socket

import pytest

from qpd.ops.newsite import (create_site, find_ports, get_port_keys,
                             get_proto_directory, pick_ports, set_ports)
from qpd.site import ConfigurationError

_names = itertools.count()


def _name():
    return 'newsite_%d_%d' % (os.getpid(), next(_names))


def test_proto_is_found_and_complete():
    proto = get_proto_directory()
    for name in ('__init__.py', 'slash.qpy', 'users.qpy', 'counter.py',
                 'static/style.css'):
        assert os.path.exists(os.path.join(proto, name)), name


def test_port_rewriting():
    text = ("    http_address=('127.0.0.1', 8000),\n"
            "    scgi_address = ( '127.0.0.1' , 8001 ),\n"
            "    # as_https_address=('127.0.0.1', 8002),\n")
    assert get_port_keys(text) == ['http_address', 'scgi_address',
                                   'as_https_address']
    changed = set_ports(text, {'http_address': 9000, 'scgi_address': 9001,
                               'as_https_address': 9002})
    assert find_ports(changed) == {'http_address': 9000,
                                   'scgi_address': 9001,
                                   'as_https_address': 9002}
    assert "# as_https_address=('127.0.0.1', 9002)," in changed


def test_pick_ports_skips_busy_ports(tmp_path):
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        ports = pick_ports(2, str(tmp_path), first=port)
    assert port not in ports and len(set(ports)) == 2


def test_create_site_gets_fresh_ports(tmp_path):
    home = str(tmp_path)
    one = create_site(_name(), home, first_port=23000)
    two = create_site(_name(), home, first_port=23000)
    ports_one = {a for _, a in one.get_listening_addresses()}
    ports_two = {a for _, a in two.get_listening_addresses()}
    assert ports_one and ports_two and not ports_one & ports_two
    assert one.get_max_children() == 2
    assert not os.path.exists(os.path.join(one.get_package_directory(),
                                           'var'))


def test_create_site_refuses_to_overwrite(tmp_path):
    name = _name()
    create_site(name, str(tmp_path), first_port=23100)
    with pytest.raises(FileExistsError):
        create_site(name, str(tmp_path))
    marker = os.path.join(str(tmp_path), 'sites', name, 'marker')
    open(marker, 'w').close()
    create_site(name, str(tmp_path), force=True, first_port=23100)
    assert not os.path.exists(marker)


def test_bad_names_are_refused(tmp_path):
    for name in ('9lives', 'a-b', '', 'a/b'):
        with pytest.raises(ConfigurationError):
            create_site(name, str(tmp_path))
