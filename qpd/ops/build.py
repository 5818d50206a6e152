"""`qpd build NAME`: front-end configuration and the cgi2scgi adapter.

For a site, `get_configs(site)` answers ready-to-use configuration for
nginx (scgi_pass to scgi_address, or proxy_pass to http_address), Apache
(mod_proxy_scgi), lighttpd (mod_scgi) and stunnel (TLS on https_address in
front of as_https_address). `build_cgi2scgi(site, directory)` compiles
cgi2scgi.c with the system's C compiler for the site's SCGI address, or
writes the Python version when there is no compiler.

When the site runs on several web hosts (`qpd build NAME --hosts
web1:8001,web2:8001`), `get_upstream_configs(site, hosts)` answers nginx
with an `upstream` of those hosts, over HTTP (keep-alive connections to
them) and over SCGI: a host that fails `upstream_max_fails` times is left
out for `upstream_fail_timeout` seconds, and a request that failed to
connect or timed out moves on to the next host only when it is
idempotent (nginx never resends a POST that reached a host).

nginx over HTTP sends the client's address and scheme in X-Forwarded-For
and X-Forwarded-Proto, which the site believes only from the addresses
in its `trusted_proxies` (else every client shares nginx's address in
the sign-in throttle and `banned`, and cookies lack Secure behind TLS):
`get_proxy_trust(site)` is the entry proxy_pass needs, the config says
it, and `get_notes(site, hosts)` are the lines `qpd build` prints when
the site does not trust it yet. Over SCGI the front end's REMOTE_ADDR
and HTTPS are the client's, and need no key.
"""

import math
import os
import shutil
import subprocess

from qpd.config import get_front_end_body_size, get_front_end_timeout
from qpd.lib.address import (UNIX_PEER, format_address, get_local_address,
                             in_networks)
from qpd.ops.cgi2scgi import make_script

__all__ = ['get_configs', 'get_upstream_configs', 'get_storage_configs',
           'parse_hosts',
           'get_proxy_trust', 'get_notes',
           'nginx_upstream_proxy', 'nginx_upstream_scgi', 'build_cgi2scgi',
           'find_compiler', 'get_c_source']


def _host_port(address):
    """(address) -> str: host:port for a tuple, unix:PATH for a socket."""
    if isinstance(address, tuple):
        return format_address(get_local_address(address))
    return 'unix:%s' % address


def _location(site):
    return site.get_script_name() or '/'


def _server_name(site):
    return 'www.example.com'


def _body_size(site):
    """(site:Site) -> str: nginx's client_max_body_size: max_body_size."""
    return '    client_max_body_size %d;' % get_front_end_body_size(
        site.get_configuration())


def _timeout(site):
    """(site:Site) -> int: seconds the front end waits for a response, so
    that qpd's own 503 or 504 comes first."""
    return get_front_end_timeout(site.get_configuration())


def _server(site):
    """(site:Site) -> [str]: an nginx server block for the site, up to
    and opening its location (the caller closes both)."""
    return [
        'server {',
        '    listen 80;',
        '    server_name %s;' % _server_name(site),
        _body_size(site),
        '    location %s {' % _location(site)]


def _scgi_pass(site, target):
    """(site:Site, target:str) -> [str]: nginx's location lines that pass
    to target over SCGI, with the site's SCRIPT_NAME and timeout."""
    script_name = site.get_script_name()
    lines = [
        '        include scgi_params;',
        '        scgi_param SCRIPT_NAME "%s";' % script_name]
    if script_name:
        lines.append('        scgi_param PATH_INFO $uri;')
    return lines + [
        '        scgi_pass %s;' % target,
        '        scgi_read_timeout %ds;' % _timeout(site)]


def _proxy_pass(site, target, keepalive):
    """(site:Site, target:str, keepalive:bool) -> [str]: nginx's location
    lines that pass to target over HTTP/1.1 with the client's host,
    address and scheme; keepalive clears Connection, so that nginx keeps
    its connections to an upstream open."""
    lines = [
        '        proxy_pass %s;' % target,
        '        proxy_read_timeout %ds;' % _timeout(site),
        '        proxy_http_version 1.1;']
    if keepalive:
        lines.append('        proxy_set_header Connection "";')
    return lines + [
        '        proxy_set_header Host $host;',
        '        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
        '        proxy_set_header X-Forwarded-Proto $scheme;']


NGINX_HOST = 'NGINX-ADDRESS'   # where nginx connects from, on web hosts


def get_proxy_trust(site):
    """(site:Site) -> str | None: the `trusted_proxies` entry nginx's
    proxy_pass to the site's http_address needs: the address nginx
    connects from ('127.0.0.1' for a loopback or wildcard listener), or
    'unix' for a unix socket; None when http_address is off."""
    address = site.get_http_address()
    if not address:
        return None
    if not isinstance(address, tuple):
        return UNIX_PEER
    host = get_local_address(address)[0]
    return '127.0.0.1' if host == 'localhost' else host


def _trusts(site, entry):
    trusted = site.get('trusted_proxies')
    if entry == UNIX_PEER:
        return UNIX_PEER in trusted
    return in_networks(entry, trusted)


def _trust_lines(site, entry, where):
    """The config's words on trusted_proxies: what the site must set."""
    lines = [
        '# Site %s believes the X-Forwarded-For and X-Forwarded-Proto below '
        '(the client' % site.get_name(),
        "# address for sign-in throttling and banned, https for Secure "
        'cookies) only',
        "# with trusted_proxies=[%r] in its configuration%s." % (entry, where)]
    if entry != NGINX_HOST and not _trusts(site, entry):
        lines.append('# It does not trust it yet: set it.')
    return lines


def get_notes(site, hosts=None):
    """(site:Site, hosts:[(host, port)]=None) -> [str]: what `qpd build`
    says the site must set for the configs it wrote: trusted_proxies for
    nginx over HTTP."""
    if hosts:
        return ['nginx-upstream-proxy.conf: set trusted_proxies=[%r] (the '
                'address nginx connects from) on each web host, so that '
                'the site sees the client address and scheme nginx sends'
                % NGINX_HOST]
    entry = get_proxy_trust(site)
    if entry is None or _trusts(site, entry):
        return []
    return ['nginx-proxy.conf: set trusted_proxies=[%r] in site %s\'s '
            'configuration, else every client shares nginx\'s address in '
            'the sign-in throttle and banned, and cookies lack Secure '
            'behind TLS' % (entry, site.get_name())]


def _off(site, key, use):
    return ('# %s is off for site %s: set %s in its SitePublisher.'
            'configuration\n# to %s.\n' % (key, site.get_name(), key, use))


def nginx_scgi(site):
    """(site:Site) -> str"""
    address = site.get_scgi_address()
    if not address:
        return _off(site, 'scgi_address', 'use nginx with scgi_pass')
    lines = ['# nginx: serve site %s over SCGI' % site.get_name()]
    lines += _server(site) + _scgi_pass(site, _host_port(address))
    lines += ['    }', '}']
    return '\n'.join(lines) + '\n'


def nginx_proxy(site):
    """(site:Site) -> str"""
    address = site.get_http_address()
    if not address:
        return _off(site, 'http_address', 'use nginx with proxy_pass')
    if isinstance(address, tuple):
        upstream = 'http://%s' % _host_port(address)
    else:
        upstream = 'http://unix:%s:' % address
    lines = ['# nginx: serve site %s as an HTTP proxy' % site.get_name()]
    lines += _trust_lines(site, get_proxy_trust(site), '')
    lines += _server(site) + _proxy_pass(site, upstream, keepalive=False)
    lines += ['    }', '}']
    return '\n'.join(lines) + '\n'


def apache(site):
    """(site:Site) -> str"""
    address = site.get_scgi_address()
    if not address:
        return _off(site, 'scgi_address', 'use Apache with mod_proxy_scgi')
    if isinstance(address, tuple):
        target = 'scgi://%s/' % _host_port(address)
    else:
        target = 'unix:%s|scgi://localhost/' % address
    location = site.get_script_name() or ''
    return '\n'.join([
        '# Apache: serve site %s with mod_proxy_scgi' % site.get_name(),
        '# (a2enmod proxy proxy_scgi)',
        '<VirtualHost *:80>',
        '    ServerName %s' % _server_name(site),
        '    ProxyPass %s/ %s timeout=%d' % (
            location, target, _timeout(site)),
        '</VirtualHost>']) + '\n'


def lighttpd(site):
    """(site:Site) -> str"""
    address = site.get_scgi_address()
    if not address:
        return _off(site, 'scgi_address', 'use lighttpd with mod_scgi')
    if isinstance(address, tuple):
        host, port = address
        if host in ('', '0.0.0.0'):
            host = '127.0.0.1'
        backend = '"host" => "%s", "port" => %d' % (host, port)
    else:
        backend = '"socket" => "%s"' % address
    return '\n'.join([
        '# lighttpd: serve site %s with mod_scgi' % site.get_name(),
        'server.modules += ( "mod_scgi" )',
        '$HTTP["host"] == "%s" {' % _server_name(site),
        '    scgi.server = ( "%s" => ( "%s" => (' % (
            _location(site), site.get_name()),
        '        %s,' % backend,
        '        "check-local" => "disable",',
        '        "fix-root-scriptname" => "enable",',
        '        "disable-time" => 5',
        '    ) ) )',
        '}']) + '\n'


def stunnel(site, cert='/etc/ssl/private/%s.pem'):
    """(site:Site, cert:str) -> str"""
    plain = site.get_as_https_address()
    if not plain:
        return _off(site, 'as_https_address',
                    "('127.0.0.1', PORT) and https_address to "
                    "('0.0.0.0', 443) to use stunnel")
    public = site.get_https_address() or ('0.0.0.0', 443)
    if isinstance(public, tuple):
        accept = format_address(public)
    else:
        accept = public
    if '%s' in cert:
        cert = cert % site.get_name()
    return '\n'.join([
        '; stunnel: TLS on https_address in front of as_https_address '
        'for site %s' % site.get_name(),
        '; cert is a PEM file holding the certificate and its key',
        '; stunnel sends no client address: every client is stunnel\'s '
        'to the site',
        '; (sign-in throttling, banned). To tell clients apart, put nginx '
        '(TLS, proxy_pass)',
        '; in front instead, with trusted_proxies',
        'foreground = yes',
        'pid =',
        '[%s]' % site.get_name(),
        'accept = %s' % accept,
        'connect = %s' % _host_port(plain),
        'cert = %s' % cert]) + '\n'


def get_configs(site):
    """(site:Site) -> [(filename:str, text:str)]; on durus_storage=
    'postgresql' also what each web host needs (qpd.ops.build_postgresql)."""
    configs = [('nginx-scgi.conf', nginx_scgi(site)),
               ('nginx-proxy.conf', nginx_proxy(site)),
               ('apache.conf', apache(site)),
               ('lighttpd.conf', lighttpd(site)),
               ('stunnel.conf', stunnel(site))]
    configs.extend(get_storage_configs(site))
    return configs


def get_storage_configs(site):
    """(site:Site) -> [(filename, text)]: postgresql-web-host.txt for a
    site on durus_storage='postgresql', else none."""
    if site.get('durus_storage') != 'postgresql':
        return []
    from qpd.ops.build_postgresql import get_postgresql_text
    return [('postgresql-web-host.txt', get_postgresql_text(site))]


def parse_hosts(text, default_port):
    """(text:str, default_port:int|None) -> [(host:str, port:int)]: the
    web hosts of `--hosts web1:8001,web2,...`; a host without a port
    gets default_port. ValueError names a bad entry."""
    hosts = []
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        host, sep, port = item.rpartition(':')
        if not sep:
            host, port = item, default_port
        elif not port.isdigit() or not host:
            raise ValueError('%r is not HOST or HOST:PORT' % item)
        if port is None:
            raise ValueError('%r has no port and the site has no '
                             'http_address port' % item)
        hosts.append((host.strip('[]'), int(port)))
    if not hosts:
        raise ValueError('no hosts in %r' % text)
    return hosts


def _upstream(site, name, hosts, keepalive):
    """(site, name:str, hosts:[(host, port)], keepalive:bool) -> [str]"""
    lines = ['upstream %s {' % name]
    for host, port in hosts:
        lines.append('    server %s max_fails=%d fail_timeout=%ds;' % (
            format_address((host, port)), site.get('upstream_max_fails'),
            math.ceil(site.get('upstream_fail_timeout'))))
    if keepalive and site.get('upstream_keepalive'):
        lines.append('    keepalive %d;' % site.get('upstream_keepalive'))
    lines.append('}')
    return lines


def _next_upstream(site, prefix, hosts):
    """The retry policy: on a connection error or a timeout, an idempotent
    request (nginx never retries POST, PATCH or LOCK once sent) goes to
    the next host, each host tried at most once."""
    return [
        '        %s_connect_timeout %gs;' % (
            prefix, site.get('upstream_connect_timeout')),
        '        %s_next_upstream error timeout;' % prefix,
        '        %s_next_upstream_tries %d;' % (prefix, len(hosts)),
    ]


def nginx_upstream_proxy(site, hosts):
    """(site:Site, hosts:[(host, port)]) -> str: nginx in front of web
    hosts' http_address."""
    name = '%s_http' % site.get_name()
    lines = [
        '# nginx: site %s on %d web hosts (HTTP); a host that fails is left '
        'out' % (site.get_name(), len(hosts)),
        '# for upstream_fail_timeout, and idempotent requests move on to '
        'the next.'] + _trust_lines(site, NGINX_HOST, ' on each web host') \
        + _upstream(site, name, hosts, keepalive=True)
    lines += _server(site)
    lines += _proxy_pass(site, 'http://%s' % name, keepalive=True)
    lines += _next_upstream(site, 'proxy', hosts) + ['    }', '}']
    return '\n'.join(lines) + '\n'


def nginx_upstream_scgi(site, hosts):
    """(site:Site, hosts:[(host, port)]) -> str: nginx in front of web
    hosts' scgi_address (the port of the site's scgi_address)."""
    address = site.get_scgi_address()
    if not isinstance(address, tuple):
        return _off(site, 'scgi_address',
                    "('0.0.0.0', PORT) and front_end_beyond_loopback to "
                    "True (with a firewall that lets only nginx in) to use "
                    "nginx with SCGI upstreams")
    name = '%s_scgi' % site.get_name()
    hosts = [(host, address[1]) for host, port in hosts]
    lines = [
        '# nginx: site %s on %d web hosts (SCGI, port %d of each); SCGI '
        'closes' % (site.get_name(), len(hosts), address[1]),
        '# each connection, so there is no keepalive to the upstreams.'] + \
        _upstream(site, name, hosts, keepalive=False)
    lines += _server(site) + _scgi_pass(site, name)
    lines += _next_upstream(site, 'scgi', hosts) + ['    }', '}']
    return '\n'.join(lines) + '\n'


def get_upstream_configs(site, hosts):
    """(site:Site, hosts:[(host, port)]) -> [(filename:str, text:str)]:
    nginx in front of several web hosts, over HTTP and over SCGI."""
    return [('nginx-upstream-proxy.conf', nginx_upstream_proxy(site, hosts)),
            ('nginx-upstream-scgi.conf', nginx_upstream_scgi(site, hosts))
            ] + get_storage_configs(site)


def get_c_source():
    """() -> str: the path of cgi2scgi.c"""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'cgi2scgi.c')


def find_compiler():
    """() -> str | None: the system's C compiler ($CC, cc, gcc, clang)."""
    for name in (os.environ.get('CC'), 'cc', 'gcc', 'clang'):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _c_string(text):
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def build_cgi2scgi(site, directory, compiler=None):
    """(site:Site, directory:str, compiler:str=None) -> (path:str, kind:str)

    Write the site's cgi2scgi into `directory`: compiled from cgi2scgi.c
    (kind 'C') when a compiler is found, else the Python script (kind
    'Python'). Raises ValueError when the site has no scgi_address."""
    address = site.get_scgi_address()
    if not address:
        raise ValueError('site %s has no scgi_address; set scgi_address = '
                         "('127.0.0.1', PORT) to use cgi2scgi"
                         % site.get_name())
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, 'cgi2scgi')
    compiler = compiler or find_compiler()
    if compiler:
        if isinstance(address, tuple):
            host, port = address
            if host in ('', '0.0.0.0'):
                host = '127.0.0.1'
            defines = ['-DSCGI_HOST=%s' % _c_string(host),
                       '-DSCGI_PORT=%d' % port]
        else:
            defines = ['-DSCGI_SOCKET=%s' % _c_string(address)]
        try:
            result = subprocess.run(
                [compiler, '-O2', '-Wall'] + defines +
                ['-o', path, get_c_source()],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        except OSError:
            result = None
        if result is not None and result.returncode == 0:
            return path, 'C'
    if isinstance(address, tuple) and address[0] in ('', '0.0.0.0'):
        address = ('127.0.0.1', address[1])
    with open(path, 'w') as f:
        f.write(make_script(address))
    os.chmod(path, 0o755)
    return path, 'Python'
