"""`qpd certs NAME`: the site's own CA and one certificate per host, for
the StorageServer's mutual TLS (qpd.storage.tls).

The `hosts` key says which hosts there are (without it, this machine is
the only one and runs both roles). `qpd certs NAME` writes, under
`<home>/certs/NAME/` (or --output DIR):

    README          which file goes where
    ca.key          the CA's private key: keep it off the web hosts
    ca.pem          the CA's certificate
    crl.pem         the certificates revoked (none at first), signed by
                    the CA
    secret.key      with several hosts, the site's signing key (of form
                    tokens and Digest nonces, qpd.lib.secret_file), which
                    every web host must share
    HOST/ca.pem, HOST/host.pem, HOST/host.key, HOST/crl.pem[, secret.key]
                    one directory per host: copy it to that host as the
                    site's durus_tls_directory (default sites/NAME/var/tls)

The storage host's certificate names every name and address clients may
dial it by (its host name, the host of durus_address, and any
--storage-name), and serves TLS; it may also act as a client (`qpd shell`
on that host). A web host's certificate is a client certificate naming
the host. Keys are ECDSA P-256 (quick handshakes); every file is written
with mode 0600 and every directory 0700.

Running it again keeps the CA (so a host added to `hosts` later gets a
certificate the others trust) and the hosts that have their files; with
--renew, every host's certificate is made again (the CA stays).

Revoking a host (its key stolen, the machine gone): `qpd certs NAME
--revoke HOST` adds the host's certificate to crl.pem, removes the host's
directory, and copies the new crl.pem into every other host's directory;
copy `STORAGE_HOST/crl.pem` to the storage host's durus_tls_directory and
restart its StorageServer, which from then on refuses a peer showing a
revoked certificate (qpd.storage.tls loads crl.pem when it is there).
The revoked host had the signing key too: it is rotated (what it signed
verifies for a bounded while, see qpd.lib.secret_file) and copied into
every other host's directory, to be copied to the hosts as well. A
host that should stay gets a new certificate with `qpd certs NAME`. The
other way, when the CA key itself may be out: remove the certs
directory, run `qpd certs NAME` (a new CA) and copy every host's
directory again; the old CA's certificates are then worth nothing. The
README says both.

Everything is done by the `cryptography` package; every file is written
through qpd.lib.private_dir (0600, a new file renamed into place).
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from qpd.lib.private_dir import check_private_file, write_private_file
from qpd.ops.errors import OperationError
from qpd.storage.tls import (
    CA_FILE, CERT_FILE, CRL_FILE, KEY_FILE, get_certificate_end)

__all__ = ['make_key', 'make_ca', 'make_host_certificate', 'write_host_files',
           'write_site_certs', 'revoke_host', 'make_crl', 'share_secret',
           'get_storage_names', 'plan_hosts', 'CA_DAYS', 'HOST_DAYS']

CA_DAYS = 3650
HOST_DAYS = 825


def make_key():
    """() -> an ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject, issuer, public_key, days):
    """(subject:x509.Name, issuer:x509.Name, public_key, days:int)
        -> x509.CertificateBuilder: a random serial number, valid from
    five minutes ago (clocks differ a little) for days."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return x509.CertificateBuilder().subject_name(subject).issuer_name(
        issuer).public_key(public_key).serial_number(
        x509.random_serial_number()).not_valid_before(
        now - datetime.timedelta(minutes=5)).not_valid_after(
        now + datetime.timedelta(days=days))


_KEY_USAGES = ('digital_signature', 'content_commitment', 'key_encipherment',
               'data_encipherment', 'key_agreement', 'key_cert_sign',
               'crl_sign', 'encipher_only', 'decipher_only')


def _key_usage(*granted):
    """(*granted:str) -> x509.KeyUsage: the usages named (of _KEY_USAGES),
    and no other."""
    return x509.KeyUsage(**{usage: usage in granted
                            for usage in _KEY_USAGES})


def make_ca(site_name, days=CA_DAYS):
    """(site_name:str, days:int=CA_DAYS) -> (key, certificate): a CA that
    signs the site's host certificates and nothing else (path length 0)."""
    key = make_key()
    name = _name('qpd site %s CA' % site_name)
    builder = _builder(name, name, key.public_key(), days).add_extension(
        x509.BasicConstraints(ca=True, path_length=0), critical=True
    ).add_extension(
        _key_usage('key_cert_sign', 'crl_sign'), critical=True
    ).add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
        critical=False)
    return key, builder.sign(key, hashes.SHA256())


def _alt_name(name):
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def make_host_certificate(ca_key, ca_cert, host, names=(), server=False,
                          days=HOST_DAYS):
    """(ca_key, ca_cert, host:str, names:[str]=(), server:bool=False,
        days:int=HOST_DAYS) -> (key, certificate)
    A certificate for host, signed by the CA, naming host and names (DNS
    names or IP addresses). Every host certificate is good for a client;
    with server, for the StorageServer too."""
    key = make_key()
    alt = []
    for name in [host] + list(names):
        entry = _alt_name(name)
        if entry not in alt:
            alt.append(entry)
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = _builder(_name(host), ca_cert.subject, key.public_key(),
                       days).add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(
        _key_usage('digital_signature', 'key_agreement'), critical=True
    ).add_extension(x509.ExtendedKeyUsage(usages), critical=False
    ).add_extension(x509.SubjectAlternativeName(alt), critical=False
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _key_bytes(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_bytes(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _mkdir(path):
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)


def get_storage_names(site, extra=()):
    """(site:Site, extra:[str]=()) -> [str]: the names and addresses
    clients may dial the StorageServer by: the storage host's name, the
    host of durus_address (loopback names when it is loopback or the
    site runs on one host), and extra."""
    import socket
    hosts = site.get('hosts')
    names = []
    if hosts is None:
        names.append(socket.gethostname())
    else:
        names.extend(h for h, roles in hosts.items() if 'storage' in roles)
    address = site.get_durus_address()
    if isinstance(address, tuple) and address[0] not in ('', '0.0.0.0', '::'):
        names.append(address[0])
    if hosts is None or (isinstance(address, tuple)
                         and address[0] in ('', '0.0.0.0', '::',
                                            '127.0.0.1', 'localhost')):
        names.extend(['localhost', '127.0.0.1', '::1'])
    names.extend(extra)
    result = []
    for name in names:
        if name not in result:
            result.append(name)
    return result


def plan_hosts(site, storage_names=()):
    """(site:Site, storage_names:[str]=()) -> [(host:str, names:[str],
    server:bool)]: the certificates the site needs, the storage host's
    first."""
    import socket
    hosts = site.get('hosts')
    if hosts is None:
        hosts = {socket.gethostname(): ('storage', 'web')}
    plan = []
    for host, roles in sorted(hosts.items(),
                              key=lambda item: 'storage' not in item[1]):
        if 'storage' in roles:
            names = [n for n in get_storage_names(site, storage_names)
                     if n != host]
            plan.append((host, names, True))
        else:
            plan.append((host, [], False))
    return plan


def write_host_files(directory, ca_key, ca_cert, host, names=(),
                     server=False):
    """(directory:str, ca_key, ca_cert, host:str, names:[str]=(),
        server:bool=False) -> None: write a host's ca.pem, host.pem and
    host.key into directory (made with mode 0700; files 0600)."""
    _mkdir(directory)
    key, cert = make_host_certificate(ca_key, ca_cert, host, names,
                                      server=server)
    write_private_file(os.path.join(directory, KEY_FILE), _key_bytes(key))
    write_private_file(os.path.join(directory, CERT_FILE), _cert_bytes(cert))
    write_private_file(os.path.join(directory, CA_FILE), _cert_bytes(ca_cert))


def make_crl(ca_key, ca_cert, revoked=()):
    """(ca_key, ca_cert, revoked:[x509.RevokedCertificate]=())
        -> x509.CertificateRevocationList: signed by the CA, good until
    the CA ends (a CRL past its next update fails every handshake)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateRevocationListBuilder().issuer_name(
        ca_cert.subject).last_update(now - datetime.timedelta(minutes=5)
    ).next_update(get_certificate_end(ca_cert))
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    return builder.sign(ca_key, hashes.SHA256())


def _load_crl(directory):
    """(directory:str) -> [x509.RevokedCertificate]: crl.pem's entries."""
    path = os.path.join(directory, CRL_FILE)
    if not os.path.exists(path):
        return []
    with open(path, 'rb') as f:
        return list(x509.load_pem_x509_crl(f.read()))


def _load_ca(directory):
    """(directory:str) -> (key, certificate) | None"""
    ca_key_path = os.path.join(directory, 'ca.key')
    ca_path = os.path.join(directory, CA_FILE)
    if not (os.path.exists(ca_key_path) and os.path.exists(ca_path)):
        return None
    problem = check_private_file(ca_key_path)
    if problem:
        raise OperationError(
            '%s; ca.key signs whatever the StorageServer accepts: if others '
            'may have copied it, roll the CA over (a new certs directory, '
            'see the README there)' % problem)
    with open(ca_key_path, 'rb') as f:
        ca_key = serialization.load_pem_private_key(f.read(), None)
    with open(ca_path, 'rb') as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    return ca_key, ca_cert


def _host_directories(directory):
    return sorted(name for name in os.listdir(directory)
                  if os.path.isfile(os.path.join(directory, name, CERT_FILE)))


def _write_crl(directory, crl):
    """Write crl.pem into directory and every host directory in it."""
    data = _cert_bytes(crl)
    write_private_file(os.path.join(directory, CRL_FILE), data)
    for host in _host_directories(directory):
        write_private_file(os.path.join(directory, host, CRL_FILE), data)


def share_secret(directory, rotate=False):
    """(directory:str, rotate:bool=False) -> str
    The signing key of a site on several hosts: directory/secret.key,
    made when missing (a new key with rotate), copied into every host
    directory there; its path."""
    from qpd.lib.secret_file import FILE_NAME, SecretFile
    keys = SecretFile(os.path.join(directory, FILE_NAME))
    if not keys.ensure() and rotate:
        keys.rotate()
    with open(keys.path, 'rb') as f:
        data = f.read()
    for host in _host_directories(directory):
        write_private_file(os.path.join(directory, host, FILE_NAME), data)
    return keys.path


def revoke_host(site, directory, host, say=None):
    """(site:Site, directory:str, host:str, say=None) -> int
    Revoke host's certificate (see the module's docstring): add it to
    the CA's crl.pem, copied into every remaining host directory, and
    remove the host's directory. The serial number revoked.
    OperationError (one line) when there is no CA or no such host."""
    import shutil
    say = say or (lambda line: None)
    ca = _load_ca(directory)
    if ca is None:
        raise OperationError(
            '%s holds no CA (ca.key, ca.pem): run "qpd certs %s" there '
            'first, or give --output DIR' % (directory, site.get_name()))
    ca_key, ca_cert = ca
    host_dir = os.path.join(directory, host)
    cert_path = os.path.join(host_dir, CERT_FILE)
    if not os.path.isfile(cert_path):
        raise OperationError(
            'no certificate of host %s in %s (hosts there: %s)' % (
                host, directory, ', '.join(_host_directories(directory))
                or 'none'))
    with open(cert_path, 'rb') as f:
        cert = x509.load_pem_x509_certificate(f.read())
    revoked = _load_crl(directory)
    if cert.serial_number not in {r.serial_number for r in revoked}:
        revoked.append(x509.RevokedCertificateBuilder().serial_number(
            cert.serial_number).revocation_date(
            datetime.datetime.now(datetime.timezone.utc)).build())
    shutil.rmtree(host_dir)
    _write_crl(directory, make_crl(ca_key, ca_cert, revoked))
    say('revoked %s (serial %x); removed %s' % (host, cert.serial_number,
                                                host_dir))
    if os.path.exists(os.path.join(directory, 'secret.key')):
        share_secret(directory, rotate=True)
        say('rotated the signing key, which %s had: copy each host\'s '
            'secret.key with its crl.pem' % host)
    return cert.serial_number


README = """\
TLS files of the qpd site %(site)s (made by `qpd certs %(site)s`)

ca.key    the CA's private key. Keep it here, on the machine where you run
          `qpd certs`: with it anyone can make certificates that the
          StorageServer accepts. Not needed on any host.
ca.pem    the CA's certificate (each host directory has a copy).

Copy each host's directory to that host, as the site's
durus_tls_directory (default: sites/%(site)s/var/tls), keeping the modes
(0700 directory, 0600 files), e.g.
    scp -rp HOST/ HOST:QPD_HOME/sites/%(site)s/var/tls

%(hosts)s
Then, on each host: `qpd start %(site)s` (with QPD_HOST=HOST when the
machine's host name differs). A host added later: add it to the site's
`hosts` and run `qpd certs %(site)s` again (the CA is kept).

secret.key  (several hosts) the site's signing key, the same in every
          host's directory: every web host must have it, or a form
          shown by one host is refused by another.

crl.pem   the certificates revoked, signed by the CA; each host directory
          has a copy. A host's key stolen, or the host gone:
              qpd certs %(site)s --revoke HOST
          adds its certificate here, removes HOST/ and rotates
          secret.key; copy the storage host's crl.pem to it (as above)
          and restart its StorageServer: it then refuses that
          certificate; copy every host's secret.key to it. `qpd certs %(site)s` makes
          the host a new one if it stays.
          The CA key itself out: remove this directory, run
          `qpd certs %(site)s` (a new CA) and copy every host's directory
          again; certificates of the old CA are then refused.
"""


def write_site_certs(site, directory, storage_names=(), renew=False,
                     say=None):
    """(site:Site, directory:str, storage_names:[str]=(), renew=False,
        say=None) -> [str]: make the CA (unless directory has one) and the
    certificate of every host that lacks one (every host, with renew);
    the hosts whose files were written. say(line) reports each."""
    say = say or (lambda line: None)
    _mkdir(directory)
    ca_path = os.path.join(directory, CA_FILE)
    ca = _load_ca(directory)
    if ca is not None:
        ca_key, ca_cert = ca
        say('kept the CA in %s' % ca_path)
    else:
        ca_key, ca_cert = make_ca(site.get_name())
        write_private_file(os.path.join(directory, 'ca.key'),
                           _key_bytes(ca_key))
        write_private_file(ca_path, _cert_bytes(ca_cert))
        say('made the CA: %s' % ca_path)
    written = []
    lines = []
    for host, names, server in plan_hosts(site, storage_names):
        host_dir = os.path.join(directory, host)
        role = 'storage host (server and client)' if server else \
            'web host (client)'
        lines.append('%-20s %s%s' % (host + '/', role, (
            ', dialled as ' + ', '.join([host] + names)) if server else ''))
        if os.path.exists(os.path.join(host_dir, CERT_FILE)) and not renew:
            say('kept %s' % host_dir)
            continue
        write_host_files(host_dir, ca_key, ca_cert, host, names, server)
        written.append(host)
        say('made %s: %s' % (host_dir, role))
    # Every host's directory, kept or made, gets the CA's current list
    # and, with several hosts, the one signing key their workers share.
    _write_crl(directory, make_crl(ca_key, ca_cert, _load_crl(directory)))
    if site.get('hosts'):
        share_secret(directory)
    write_private_file(os.path.join(directory, 'README'), (README % {
        'site': site.get_name(), 'hosts': '\n'.join(lines) + '\n'}).encode())
    return written
