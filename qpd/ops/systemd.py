"""`qpd build NAME --systemd`: systemd units that run a site with socket
activation (supervisord stays the default way to run sites).

For each listening key of the site (http_address, scgi_address,
as_https_address) one socket unit, `qpd-NAME-KEY.socket`, listens on
its address and names its descriptor after the key
(`FileDescriptorName=http`, since the name covers every socket of a
unit); the service unit, `qpd-NAME.service`, runs `qpd serve NAME` with
those sockets (`Sockets=`). systemd passes them to serve (LISTEN_PID,
LISTEN_FDS, LISTEN_FDNAMES), serve passes them on to its dispatcher
(qpd.server.listeners.take_passed), and the dispatcher opens only the
keys nobody passed. The sockets outlive the service: while it restarts,
connections wait in their backlog instead of being refused.

`KillMode=mixed`: systemd's SIGTERM goes to serve alone, which stops
the dispatcher first, then the workers, then the StorageServer; what is
left at `TimeoutStopSec` (qpd.config.get_stop_wait plus serve's margin)
is killed.

To install: write each unit printed into /etc/systemd/system under its
name, then `systemctl daemon-reload` and `systemctl enable --now` the
socket units and the service.
"""

import os
import pwd
import shlex

from qpd.config import get_stop_wait
from qpd.lib.address import format_address
from qpd.ops.supervisor import get_qpd_command

__all__ = ['get_units', 'get_service_name', 'get_socket_name']


def get_service_name(site):
    """(site:Site) -> str: 'qpd-NAME.service'"""
    return 'qpd-%s.service' % site.get_name()


def get_socket_name(site, key):
    """(site:Site, key:str) -> str: 'qpd-NAME-http.socket' for http_address"""
    return 'qpd-%s-%s.socket' % (site.get_name(), _short(key))


def _short(key):
    return key[:-len('_address')]


def _escape(text):
    """(text:str) -> str: a value for a unit file, where % starts a
    specifier and $ a variable."""
    return text.replace('%', '%%').replace('$', '$$')


def _listen(address):
    """(address) -> str: ListenStream's form: HOST:PORT, [V6]:PORT, a
    port alone for every address, or a socket path."""
    if isinstance(address, tuple) and not address[0]:
        return str(address[1])
    return format_address(address)


def _socket_unit(site, key, address):
    name = site.get_name()
    lines = [
        '# qpd site %s: the %s listener; `qpd build %s --systemd` writes it.'
        % (name, key, name),
        '[Unit]',
        'Description=qpd site %s: %s' % (name, key),
        '',
        '[Socket]',
        'ListenStream=%s' % _escape(_listen(address)),
        'FileDescriptorName=%s' % _short(key),
        'Service=%s' % get_service_name(site),
        'Backlog=1024']
    if not isinstance(address, tuple):
        group = site.get('unix_socket_group')
        lines.append('SocketMode=%s' % ('0660' if group else '0600'))
        if group:
            lines.append('SocketGroup=%s' % _escape(group))
        lines.append('RemoveOnStop=true')
    lines += ['', '[Install]', 'WantedBy=sockets.target', '']
    return '\n'.join(lines)


def _service_unit(site, keys):
    name = site.get_name()
    home = site.get_home()
    sockets = ' '.join(get_socket_name(site, key) for key in keys)
    command = ' '.join(shlex.quote(word) for word in (
        get_qpd_command() + ['--home', home, 'serve', name]))
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    stop = get_stop_wait(site.get_configuration()) + 15
    return '\n'.join([
        '# qpd site %s, run by `qpd serve` with the sockets systemd '
        'listens on;' % name,
        '# `qpd build %s --systemd` writes it.' % name,
        '[Unit]',
        'Description=qpd site %s' % name,
        'Requires=%s' % sockets,
        'After=network.target %s' % sockets,
        '',
        '[Service]',
        'Type=simple',
        'User=%s' % _escape(user),
        'WorkingDirectory=%s' % _escape(home),
        'ExecStart=%s' % _escape(command),
        'Sockets=%s' % sockets,
        'Environment=PYTHONUNBUFFERED=1',
        'KillMode=mixed',
        'TimeoutStopSec=%d' % stop,
        'Restart=on-failure',
        'RestartSec=2',
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        ''])


def get_units(site):
    """(site:Site) -> [(filename:str, text:str)]: the socket units, then
    the service unit."""
    addresses = site.get_listening_addresses()
    units = [(get_socket_name(site, key), _socket_unit(site, key, address))
             for key, address in addresses]
    units.append((get_service_name(site),
                  _service_unit(site, [key for key, _ in addresses])))
    return units
