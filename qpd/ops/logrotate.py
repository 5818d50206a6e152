"""`qpd build NAME --logrotate`: a ready /etc/logrotate.d snippet.

The site's log (`logfile`, `var/site.log` by default) is written by every
worker through a descriptor opened with O_APPEND. logrotate renames the
file and, in `postrotate`, has supervisord send SIGHUP to each worker
(`supervisorctl signal HUP NAME:worker_00 ...`); a worker that gets SIGHUP
opens the file again under its name and puts the new descriptor in place
of the old ones (dup2), so the next line goes to the new file, no line is
lost or split, and `copytruncate` is not needed. Only the workers get the
signal: the StorageServer would stop on SIGHUP, and the dispatcher (which
re-reads its `banned` file on SIGHUP) does not write the site's log.

The processes' own output (`var/durus.log`, `var/dispatcher.log`,
`var/worker_NN.log`) is supervisord's business: it rotates those itself
(10 MB, 3 backups), so the snippet leaves them alone. Under `qpd serve`,
SIGHUP to the serve process is passed to its workers.
"""

import grp
import os
import pwd
import shlex
import sys

from qpd.ops.supervisor import Supervisor

__all__ = ['get_logrotate', 'get_worker_programs']


def get_worker_programs(site):
    """(site:Site) -> [str]: supervisord's names of the site's workers."""
    return ['%s:worker_%02d' % (site.get_name(), i)
            for i in range(site.get_max_children())]


def get_logrotate(site, python=None):
    """(site:Site, python:str=None) -> str: the snippet for
    /etc/logrotate.d/qpd-NAME; python is the interpreter that has qpd
    (default: this one)."""
    name = site.get_name()
    supervisor = Supervisor(site.get_home())
    command = ' '.join(shlex.quote(part) for part in (
        [python or sys.executable, '-m', 'supervisor.supervisorctl', '-c',
         supervisor.get_conf_file(), 'signal', 'HUP']
        + get_worker_programs(site)))
    uid, gid = os.getuid(), os.getgid()
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    logfile = site.get_logfile()
    quoted = '"%s"' % logfile if any(c.isspace() for c in logfile) \
        else logfile
    return '''\
# /etc/logrotate.d/qpd-%(name)s: the log of site %(name)s (hits and errors,
# written by its workers). Made by `qpd build %(name)s --logrotate`.
# After the rename, supervisord sends SIGHUP to each worker, which reopens
# the file: no copytruncate, no lost lines. supervisord rotates the
# processes' own logs (var/*.log of each program) itself.
%(logfile)s {
    weekly
    rotate 8
    compress
    delaycompress
    missingok
    notifempty
    create 0600 %(user)s %(group)s
    sharedscripts
    postrotate
        %(command)s >/dev/null 2>&1 || true
    endscript
}
''' % dict(name=name, logfile=quoted, user=user, group=group,
           command=command)
