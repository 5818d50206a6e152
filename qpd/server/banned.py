"""qpd.server.banned: the addresses a site refuses, as its processes see them.

    banned = Banned(site)
    banned.refresh(now)      # rereads the banned file when it changed,
                             # at most every CHECK_INTERVAL seconds; True
                             # when the addresses changed
    host in banned

The dispatcher refuses a banned address with 403; a worker that accepted a
connection from one hands it to the dispatcher, which refuses it. Both
read the file (the `banned` key) the same way, through this class. The
dispatcher rereads it at once on SIGHUP and tells its workers to reread
it whenever it changed (fdpass BANNED).
"""

import os

__all__ = ['Banned', 'CHECK_INTERVAL']

CHECK_INTERVAL = 5.0    # seconds between looks at the file's mtime


class Banned:
    """(site:Site)"""

    def __init__(self, site):
        self.site = site
        self.addresses = frozenset()
        self.mtime = None
        self.checked = None

    def __contains__(self, host):
        return host in self.addresses

    def __bool__(self):
        return bool(self.addresses)

    def refresh(self, now, force=False):
        """(now:float, force:bool=False) -> bool: reread the file if it
        changed (without force, only CHECK_INTERVAL after the last look,
        or when `checked` is None); have the addresses changed?"""
        if (not force and self.checked is not None
                and now - self.checked < CHECK_INTERVAL):
            return False
        self.checked = now
        try:
            mtime = os.stat(self.site.get_banned_file()).st_mtime_ns
        except OSError:
            mtime = None
        if mtime != self.mtime or force:
            self.mtime = mtime
            before = self.addresses
            self.addresses = frozenset(
                self.site.get_banned() if mtime is not None else ())
            return self.addresses != before
        return False
