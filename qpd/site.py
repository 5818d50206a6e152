"""Site: one site's package, configuration, files and addresses.

A qpd home directory holds `sites/NAME/`, a Python package whose `slash`
module (`slash.qpy` or `slash.py`) defines `SitePublisher` (a Publisher
subclass with a `configuration` dict) and `SiteDirectory` (the root of the
site's URL space). Site packages are importable as `qpd.sites.NAME`, as QP's
were as `qp.sites.NAME`, so persistent classes defined in a site pickle under
a name that every process of the site can import.
"""

import importlib
import os
import socket

import qpd.sites
from qpd.config import ConfigurationError, check_configuration
from qpd.lib.address import format_address, get_local_address, \
    parse_address
from qpd.lib.private_dir import get_fallback_directory, tighten
from qpd.storage.connection import connect

__all__ = ['Site', 'ConfigurationError', 'list_site_names', 'get_home',
           'parse_address', 'format_address', 'get_local_address',
           'check_sites']

# The dispatcher's listeners (at least one must be on).
_ADDRESS_KEYS = ('http_address', 'scgi_address', 'as_https_address')
_MAX_SOCKET_PATH = 100   # sun_path holds 108 bytes; keep a margin


def get_home(home=None):
    """(home:str=None) -> str: home, else $QPD_HOME, else the current
    directory, as an absolute path."""
    return os.path.abspath(home or os.environ.get('QPD_HOME') or os.getcwd())


def list_site_names(home=None):
    """(home:str=None) -> [str]: names of the site packages in home/sites."""
    sites = os.path.join(get_home(home), 'sites')
    if not os.path.isdir(sites):
        return []
    return sorted(
        name for name in os.listdir(sites)
        if name.isidentifier()
        and (os.path.exists(os.path.join(sites, name, 'slash.qpy'))
             or os.path.exists(os.path.join(sites, name, 'slash.py'))))


def _install_sites_path(home):
    """(home:str) -> None: make qpd.sites.NAME import from home/sites."""
    path = os.path.join(home, 'sites')
    if path not in qpd.sites.__path__:
        qpd.sites.__path__.insert(0, path)


class Site:
    """A site named `name` in the qpd home `home`."""

    def __init__(self, name, home=None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigurationError(
                name, 'NAME', 'is not a valid site name',
                'use letters, digits and underscores, starting with a letter')
        self.name = name
        self.home = get_home(home)
        self._slash = None
        self._configuration = None
        self._overrides = {}

    def __repr__(self):
        return '<Site %s in %s>' % (self.name, self.home)

    def get_name(self):
        """() -> str"""
        return self.name

    def get_home(self):
        """() -> str"""
        return self.home

    def get_package_directory(self):
        """() -> str: home/sites/NAME"""
        return os.path.join(self.home, 'sites', self.name)

    def exists(self):
        """() -> bool: does the site's package have a slash module?"""
        directory = self.get_package_directory()
        return any(os.path.exists(os.path.join(directory, 'slash' + ext))
                   for ext in ('.qpy', '.py'))

    def get_package_name(self):
        """() -> str: the site package's importable name, qpd.sites.NAME"""
        return 'qpd.sites.%s' % self.name

    # Code ----------------------------------------------------------------

    def get_slash_module(self):
        """() -> module: the site's slash module, imported once."""
        if self._slash is None:
            if not self.exists():
                raise ConfigurationError(
                    self.name, 'slash', 'module not found in %s' %
                    self.get_package_directory(),
                    'create it with "qpd new %s"' % self.name)
            _install_sites_path(self.home)
            package = importlib.import_module(self.get_package_name())
            # Pinned to the directory the package was found in: when
            # `qpd deploy` swaps the sites/NAME symlink, a running process
            # goes on importing (lazily, too) from its own release.
            package.__path__ = [os.path.realpath(path)
                                for path in package.__path__]
            self._slash = importlib.import_module(
                self.get_package_name() + '.slash')
        return self._slash

    def _get_slash_class(self, class_name):
        cls = getattr(self.get_slash_module(), class_name, None)
        if not isinstance(cls, type):
            raise ConfigurationError(
                self.name, class_name, 'is missing from slash',
                'define class %s in %s/slash.qpy' % (
                    class_name, self.get_package_directory()))
        return cls

    def get_publisher_class(self):
        """() -> type: the site's SitePublisher"""
        return self._get_slash_class('SitePublisher')

    def get_directory_class(self):
        """() -> type: the site's SiteDirectory"""
        return self._get_slash_class('SiteDirectory')

    # QP's names for the site's code and files.

    @classmethod
    def get_sites(cls, home=None):
        """(home:str=None) -> {str: Site}: every site of the home"""
        return {name: cls(name, home) for name in list_site_names(home)}

    def get_package(self):
        """() -> module: the site package (qpd.sites.NAME), imported"""
        self.get_slash_module()
        return importlib.import_module(self.get_package_name())

    def get_root_directory_class(self):
        """() -> type: QP's SiteRootDirectory when slash defines one,
        else SiteDirectory"""
        cls = getattr(self.get_slash_module(), 'SiteRootDirectory', None)
        if isinstance(cls, type):
            return cls
        return self.get_directory_class()

    def site_path(self, *rest):
        """(*rest:str) -> str: a path inside the site package"""
        return os.path.join(self.get_package_directory(), *rest)

    # Configuration -------------------------------------------------------

    def get_configuration(self):
        """() -> dict: SitePublisher.configuration over qpd's defaults, with
        addresses parsed and paths made absolute."""
        if self._configuration is None:
            self._configuration = self._build_configuration()
        return self._configuration

    def get(self, key, default=None):
        """(key:str, default=None) -> the value of a configuration key (the
        site's, else qpd's default; `default` when that is None). Keys are
        declared in qpd.config (tests/test_config.py finds reads of keys
        that are not)."""
        value = self.get_configuration().get(key)
        return default if value is None else value

    def override(self, **values):
        """(**values) -> None: for this process only, configuration keys
        set as if SitePublisher.configuration said so (`qpd worker --debug`
        sets display_exceptions=True), checked and completed the same way:
        a bad value is a ConfigurationError and changes nothing. Call it
        before anything reads the configuration it changes (the
        publisher copies it when made)."""
        overrides = dict(self._overrides, **values)
        self._configuration = self._build_configuration(overrides)
        self._overrides = overrides

    def _build_configuration(self, overrides=None):
        """(overrides:dict=None) -> dict: SitePublisher.configuration
        (with overrides over it) checked by qpd.config over its defaults,
        then the defaults that depend on the site: paths under the package
        or var directory, the StorageServer's socket."""
        own = getattr(self.get_publisher_class(), 'configuration', None)
        if own is None:
            own = {}
        if isinstance(own, dict):   # else check_configuration refuses it
            own = dict(own, **(self._overrides if overrides is None
                               else overrides))
        config = check_configuration(self.name, own)
        package = self.get_package_directory()
        var = self._path(config['var_directory'],
                         os.path.join(package, 'var'), package)
        config['var_directory'] = var
        config['static_directory'] = self._path(
            config['static_directory'], os.path.join(package, 'static'),
            package)
        config['durus_file'] = self._path(
            config['durus_file'], '%s.durus' % self.name, var)
        config['logfile'] = self._path(config['logfile'], 'site.log', var)
        config['banned'] = self._path(config['banned'], 'banned', var)
        config['durus_tls_directory'] = self._path(
            config['durus_tls_directory'], 'tls', var)
        if config['durus_address'] is None:
            config['durus_address'] = self._socket_path(var, 'durus.sock')
        for key in _ADDRESS_KEYS + ('durus_address',):
            if isinstance(config[key], str):
                config[key] = self._path(config[key], None, var)
        if not any(config[key] for key in _ADDRESS_KEYS):
            raise ConfigurationError(
                self.name, 'http_address', 'and scgi_address are both off',
                "set http_address = ('127.0.0.1', PORT)")
        return config

    def _path(self, value, default, base):
        """(value:str|None, default:str|None, base:str) -> str"""
        path = value or default
        return os.path.normpath(os.path.join(base, os.path.expanduser(path)))

    def _socket_path(self, var, filename):
        """(var:str, filename:str) -> str: var/filename, or a short private
        path when that is too long for a unix socket address."""
        path = os.path.join(var, filename)
        if len(path.encode()) <= _MAX_SOCKET_PATH:
            return path
        return os.path.join(get_fallback_directory(var), filename)

    # Paths -----------------------------------------------------------------

    def get_var_directory(self):
        """() -> str: where the database, sockets and logs live."""
        return self.get_configuration()['var_directory']

    def ensure_var_directory(self):
        """() -> str: the var directory, created (mode 0700) if missing,
        and closed to 0700 when it is ours and was wider (a QP site ships
        var/ 0755, where the database and logs would be others' to read)."""
        var = self.get_var_directory()
        os.makedirs(var, mode=0o700, exist_ok=True)
        tighten(os.path.realpath(var), 0o700)   # a release's var is a link
        return var

    def get_secret_file(self):
        """() -> str: the file of the key that signs the site's tokens
        and nonces (qpd.lib.secret_file): var/secret.key, or, on several
        hosts (`hosts` and durus_tls), secret.key in this host's TLS
        directory, where `qpd certs` puts the one every host shares."""
        from qpd.lib.secret_file import FILE_NAME
        tls = self.get_tls_directory()
        if self.get('hosts') and tls is not None:
            return os.path.join(tls, FILE_NAME)
        return os.path.join(self.get_var_directory(), FILE_NAME)

    def get_static_directory(self):
        """() -> str"""
        return self.get_configuration()['static_directory']

    def get_durus_file(self):
        """() -> str"""
        return self.get_configuration()['durus_file']

    def get_logfile(self):
        """() -> str"""
        return self.get_configuration()['logfile']

    def get_banned_file(self):
        """() -> str: a file of addresses to refuse, one per line."""
        return self.get_configuration()['banned']

    def get_banned(self):
        """() -> set[str]: the addresses in the banned file."""
        try:
            with open(self.get_banned_file()) as f:
                return {line.split('#')[0].strip() for line in f} - {''}
        except FileNotFoundError:
            return set()

    def get_dispatcher_socket(self):
        """() -> str: the unix socket where workers meet the dispatcher."""
        return self._socket_path(self.get_var_directory(), 'dispatcher.sock')

    def get_control_socket(self):
        """() -> str: the unix socket that answers the pool's stats."""
        return self._socket_path(self.get_var_directory(), 'control.sock')

    # Addresses ------------------------------------------------------------

    def get_durus_address(self):
        """() -> str | (host, port): the StorageServer's address."""
        return self.get_configuration()['durus_address']

    def get_http_address(self):
        """() -> (host, port) | str | None"""
        return self.get_configuration()['http_address']

    def get_scgi_address(self):
        """() -> (host, port) | str | None"""
        return self.get_configuration()['scgi_address']

    def get_as_https_address(self):
        """() -> (host, port) | str | None: plain HTTP treated as HTTPS."""
        return self.get_configuration()['as_https_address']

    def get_https_address(self):
        """() -> (host, port) | None: where the TLS proxy listens."""
        return self.get_configuration()['https_address']

    def get_listening_addresses(self):
        """() -> [(key:str, address)]: the dispatcher's listeners."""
        config = self.get_configuration()
        return [(key, config[key]) for key in _ADDRESS_KEYS if config[key]]

    def get_web_addresses(self):
        """() -> [address]: the addresses the web server listens on"""
        return [address for key, address in self.get_listening_addresses()]

    def get_max_children(self):
        """() -> int: the number of workers."""
        return self.get_configuration()['max_children']

    def get_durus_cache_size(self):
        """() -> int: objects each worker keeps in its Durus cache."""
        return self.get_configuration()['durus_cache_size']

    def get_script_name(self):
        """() -> str: the URL prefix of the site, '' at the root."""
        return self.get_configuration()['script_name']

    # Running ----------------------------------------------------------------

    def get_tls_directory(self):
        """() -> str | None: this host's TLS files for the StorageServer
        (ca.pem, host.pem, host.key), or None when durus_tls is off."""
        config = self.get_configuration()
        if not config['durus_tls']:
            return None
        return config['durus_tls_directory']

    def get_storage_address(self):
        """() -> str | (host, port) | qpd.storage.tls.TLSAddress: what a
        Durus client of this host dials: the durus_address as it is, or,
        with durus_tls, a TLS address presenting this host's certificate.
        A TLS file missing or unusable is a ConfigurationError."""
        address = self.get_durus_address()
        directory = self.get_tls_directory()
        if directory is None or not isinstance(address, tuple):
            return address
        from qpd.storage.tls import (TLSAddress, TLSFileError,
                                     make_client_context)
        try:
            context = make_client_context(directory)
        except TLSFileError as e:
            raise ConfigurationError(
                self.name, 'durus_tls_directory', e.problem,
                e.fix.replace('qpd certs NAME', 'qpd certs ' + self.name)
            ) from None
        host, port = get_local_address(address)
        return TLSAddress(host, port, context)

    def get_host_name(self):
        """() -> str: the name of this host in the `hosts` key: $QPD_HOST,
        else the machine's host name."""
        return os.environ.get('QPD_HOST') or socket.gethostname()

    def get_roles(self):
        """() -> (str, ...): what this host runs for the site: 'storage'
        (NAME:durus), 'web' (the dispatcher and workers), or both when
        the `hosts` key is None. A host the key does not name is a
        ConfigurationError."""
        hosts = self.get_configuration()['hosts']
        if hosts is None:
            return ('storage', 'web')
        host = self.get_host_name()
        if host not in hosts:
            raise ConfigurationError(
                self.name, 'hosts', 'does not name this host, %r' % host,
                'add it, or set QPD_HOST to one of %s' % ', '.join(
                    sorted(hosts)))
        return hosts[host]

    def get_connection(self):
        """() -> durus Connection to the site's StorageServer (over TLS
        when durus_tls is on)."""
        return connect(self.get_storage_address(),
                       cache_size=self.get_durus_cache_size())

    def make_publisher(self, connection=None):
        """(connection=None) -> SitePublisher connected to the database."""
        if connection is None:
            connection = self.get_connection()
        return self.get_publisher_class()(connection=connection, site=self)

    def get_create_publisher(self):
        """() -> SitePublisher: this Site's publisher, made (and connected
        to the StorageServer) on the first call"""
        publisher = getattr(self, '_publisher', None)
        if publisher is None:
            publisher = self._publisher = self.make_publisher()
        return publisher

    get_publisher = get_create_publisher  # QP's name

    def get_base_url(self):
        """() -> str: the http URL of the site's home page."""
        address = self.get_http_address() or self.get_as_https_address()
        if isinstance(address, tuple):
            host, port = get_local_address(address)
            if ':' in host:
                host = '[%s]' % host
            scheme = 'http' if self.get_http_address() else 'https'
            return '%s://%s:%s%s/' % (
                scheme, host, port, self.get_script_name())
        return None


def check_sites(sites):
    """([Site]) -> None: raise ConfigurationError when two sites claim one
    address."""
    seen = {}
    for site in sites:
        for key, address in site.get_listening_addresses():
            if isinstance(address, tuple):
                host, port = address
                claim = ('tcp', port)
            else:
                claim = ('unix', address)
            if claim in seen and seen[claim][0] != site.get_name():
                other, other_key = seen[claim]
                raise ConfigurationError(
                    site.get_name(), key,
                    'uses %s, as does %s of site %s' % (
                        format_address(address), other_key, other),
                    'give one of them another port')
            seen[claim] = (site.get_name(), key)
