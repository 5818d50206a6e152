"""`qpd pack NAME`: pack a live site's database through its StorageServer.

The StorageServer packs in steps between requests, so the site keeps
serving. When the database file is on this machine, progress is the size
of the new file (NAME.durus.pack) against the old one, and the pack is done
when the new file has replaced the old.
"""

import os
import time

from qpd.ops.errors import OperationError
from qpd.ops.progress import Progress

__all__ = ['pack_site', 'open_storage']


def open_storage(site):
    """(site:Site) -> durus ClientStorage connected to the site's
    StorageServer (over TLS when durus_tls is on); OperationError when it
    is not running."""
    from qpd.storage.connection import ClientStorage
    address = site.get_storage_address()
    try:
        return ClientStorage(address)
    except (OSError, AssertionError) as e:
        raise OperationError(
            'the StorageServer of site %s does not answer at %s (%s); '
            'start the site with "qpd start %s"' % (
                site.get_name(), address, e or 'not running',
                site.get_name()))


def _inode(path):
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


def _size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def pack_site(site, progress=None, timeout=3600.0):
    """(site:Site, progress:Progress=None, timeout:float=3600) -> (before,
    after): pack the site's database while it runs; the file's size before
    and after (None when the file is not on this machine)."""
    progress = progress or Progress()
    path = site.get_durus_file()
    local = os.path.exists(path)
    before = _size(path) if local else None
    inode = _inode(path)
    storage = open_storage(site)
    try:
        storage.pack()
    finally:
        storage.close()
    if not local:
        progress.done('pack of %s requested; its StorageServer packs in '
                      'the background' % site.get_name())
        return None, None
    if _inode(path) == inode and not os.path.exists(path + '.pack'):
        raise OperationError(
            'the StorageServer of %s did not start a pack (is %s read-only?)'
            % (site.get_name(), path))
    deadline = time.monotonic() + timeout
    while _inode(path) == inode:
        if time.monotonic() > deadline:
            raise OperationError('the pack of %s did not finish within %ss'
                                 % (site.get_name(), timeout))
        written = _size(path + '.pack')
        percent = min(99, 100 * written // before) if before else 0
        progress.update('packing %s: %d%% (%d of %d bytes written)' % (
            site.get_name(), percent, written, before))
        time.sleep(0.1)
    after = _size(path)
    progress.done('packed %s: %d bytes -> %d bytes' % (
        site.get_name(), before, after))
    return before, after
