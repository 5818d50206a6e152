"""`qpd new NAME`: a new site, copied from the proto site.

The proto site's slash module names its addresses with loopback ports; the
copy gets ports that are free now and not claimed by another site of the
same home, written into its slash module in place of the proto's.
"""

import os
import re
import shutil
import socket

import qpd
from qpd.site import Site, list_site_names

__all__ = ['get_proto_directory', 'create_site', 'pick_ports',
           'set_ports', 'find_ports', 'get_port_keys', 'PORT_KEYS',
           'FIRST_PORT']

PORT_KEYS = ('http_address', 'scgi_address', 'as_https_address',
             'https_address')
FIRST_PORT = 8000
_IGNORE = shutil.ignore_patterns(
    'var', '__pycache__', '*.pyc', '*.durus', '*.durus.*', '*~', '.*')


def get_proto_directory():
    """() -> str: the proto site: qpd/proto when installed with the
    package, else proto/ beside the qpd package (a source checkout)."""
    package = os.path.dirname(os.path.abspath(qpd.__file__))
    for candidate in (os.path.join(package, 'proto'),
                      os.path.join(os.path.dirname(package), 'proto')):
        if os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError('the proto site is not installed beside %s'
                            % package)


def _is_port_free(port):
    """(port:int) -> bool: can a server listen on 127.0.0.1:port now?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def get_claimed_ports(home):
    """(home:str) -> set[int]: the TCP ports that the home's sites name."""
    ports = set()
    for name in list_site_names(home):
        site = Site(name, home)
        try:
            site.get_configuration()
        except Exception:   # a broken site must not stop `qpd new`
            continue
        for key in PORT_KEYS:
            address = site.get(key)
            if isinstance(address, tuple):
                ports.add(address[1])
    return ports


def pick_ports(count, home, first=FIRST_PORT):
    """(count:int, home:str, first:int=FIRST_PORT) -> [int]: `count` ports
    from `first` up that are free and unclaimed by the home's sites."""
    claimed = get_claimed_ports(home)
    ports = []
    port = first
    while len(ports) < count:
        if port > 65535:
            raise OSError('no free ports from %d up' % first)
        if port not in claimed and _is_port_free(port):
            ports.append(port)
        port += 1
    return ports


def _port_pattern(key):
    return re.compile(
        r"""(\b%s\s*[=:]\s*\(\s*['"][^'"]*['"]\s*,\s*)(\d+)""" % key)


def get_port_keys(text):
    """(text:str) -> [str]: the address keys that `text` sets to a
    (host, port) literal, in PORT_KEYS order."""
    return [key for key in PORT_KEYS if _port_pattern(key).search(text)]


def find_ports(text):
    """(text:str) -> {key: int}: the port of each address key that `text`
    sets to a (host, port) literal (commented out or not)."""
    ports = {}
    for key in PORT_KEYS:
        found = _port_pattern(key).search(text)
        if found:
            ports[key] = int(found.group(2))
    return ports


def set_ports(text, ports):
    """(text:str, ports:{key: int}) -> str: text with the port of each
    `key = ('host', PORT)` literal replaced."""
    for key, port in ports.items():
        text = _port_pattern(key).sub(
            lambda m, port=port: m.group(1) + str(port), text)
    return text


def _find_slash(directory):
    for name in ('slash.qpy', 'slash.py'):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError('no slash.qpy in %s' % directory)


def create_site(name, home, force=False, first_port=FIRST_PORT,
                proto=None):
    """(name:str, home:str, force=False, first_port:int=FIRST_PORT,
    proto:str=None) -> Site

    Copy the proto site to home/sites/NAME with fresh ports. Raises
    FileExistsError when the site exists (unless `force`)."""
    site = Site(name, home)   # checks the name
    target = site.get_package_directory()
    if os.path.exists(target):
        if not force:
            raise FileExistsError(target)
        shutil.rmtree(target)
    proto = proto or get_proto_directory()
    with open(_find_slash(proto)) as f:
        keys = get_port_keys(f.read())
    ports = pick_ports(len(keys), home, first_port)
    os.makedirs(os.path.join(home, 'sites'), exist_ok=True)
    shutil.copytree(proto, target, ignore=_IGNORE)
    slash = _find_slash(target)
    with open(slash) as f:
        text = f.read()
    with open(slash, 'w') as f:
        f.write(set_ports(text, dict(zip(keys, ports))))
    return Site(name, home)
