"""qpd.ops.lifecycle: a site's processes under supervisord, started,
waited for, restarted and stopped in their order.

The order: a site's StorageServer (`durus`) comes up first, then its
dispatcher, then the workers (supervisord's priorities, written by
qpd.ops.supervisor; `in_start_order` lists process infos that way). A
site stops the other way round, except that its dispatcher goes first
(`stop_dispatcher_first`): it stops accepting, and the requests it holds
finish on workers that still run.

`wait_until_ready` is how every command that starts processes (`qpd
start`, `restart`, `demo`) knows they serve: the site answers a request
for its home page (a storage-only host: its StorageServer answers a
sync) and every process runs; when not, an OperationError names the
failing process with the end of its log. `rolling_restart` replaces the
workers one at a time, each back (its READY line in its log) before the
next goes: `qpd restart --rolling`, `qpd deploy` and `qpd rollback`.

It shows its progress on the Progress line it is given, and says (on
stdout) only a warning or a note; what was done is for the command
(qpd.ops.commands, qpd.ops.deploy) to say.
"""

import os
import time

from qpd.lib.ready import parse_ready_line
from qpd.ops.errors import OperationError
from qpd.ops.logs import tail
from qpd.ops.progress import Progress, say
from qpd.ops.supervisor import FAILED_STATES, get_priority, make_site_conf
from qpd.site import format_address

__all__ = ['START_TIMEOUT', 'in_start_order', 'describe', 'failure_details',
           'wait_until_ready', 'stop_dispatcher_first', 'rolling_restart']

START_TIMEOUT = 60.0     # seconds a site has to answer after starting

def in_start_order(infos):
    """([dict]) -> [dict]: process infos in supervisord's start order:
    durus, the dispatcher, then the workers by number."""
    return sorted(infos, key=lambda i: (get_priority(i['name']), i['name']))


def describe(infos):
    """([dict]) -> str: 'durus RUNNING, dispatcher RUNNING, workers 3/4'"""
    parts = []
    workers = [i for i in infos if i['name'].startswith('worker_')]
    for info in in_start_order(infos):
        if not info['name'].startswith('worker_'):
            parts.append('%s %s' % (info['name'], info['statename']))
    if workers:
        running = sum(1 for i in workers if i['statename'] == 'RUNNING')
        parts.append('workers %d/%d running' % (running, len(workers)))
    return ', '.join(parts) or 'no processes'


def failure_details(supervisor, infos, count=15):
    """([dict]) -> (str, [str]): the first failing process and the last
    lines of its log."""
    for info in in_start_order(infos):
        if info['statename'] in FAILED_STATES + ('STOPPED', 'STARTING'):
            path = info.get('stdout_logfile')
            reason = '%s is %s' % (info['name'], info['statename'])
            if info.get('spawnerr'):
                reason += ' (%s)' % info['spawnerr']
            lines = ['--- last lines of %s ---' % path] + tail(path, count)
            return reason, lines
    dispatcher = [i for i in infos if i['name'] == 'dispatcher']
    if dispatcher:
        path = dispatcher[0].get('stdout_logfile')
        return ('every process runs', ['--- last lines of %s ---' % path]
                + tail(path, count))
    return 'it has no processes', []


def wait_until_ready(site, supervisor, timeout=START_TIMEOUT, progress=None):
    """(site:Site, supervisor:Supervisor, timeout:float, progress) -> int

    Wait until the site answers a request for its home page (on a
    storage-only host: until its StorageServer answers a sync; status 0)
    and all its processes run; the HTTP status. OperationError (with the
    last lines of the failing program's log) when it does not within
    `timeout`."""
    from qpd.ops.probe import probe
    from qpd.storage.connection import ping
    progress = progress or Progress()
    serves_web = 'web' in site.get_roles()
    name = site.get_name()
    deadline = time.monotonic() + timeout
    answered = None
    problem = ''
    failures = set()   # (process, start time) of failed starts
    while True:
        infos = supervisor.get_process_infos(name)
        states = {info['name']: info['statename'] for info in infos}
        for info in infos:
            if info['statename'] in ('BACKOFF', 'EXITED', 'FATAL'):
                failures.add((info['name'], info['start']))
        fatal = [n for n, s in states.items() if s == 'FATAL']
        if fatal and (set(fatal) & {'durus', 'dispatcher'} or len(fatal) ==
                      sum(n.startswith('worker_') for n in states)):
            break
        if answered is None and any(
                sum(1 for n, _ in failures if n == process) >= 3
                for process in ('durus', 'dispatcher')):
            break      # it keeps failing: say why now
        if answered is None:
            try:
                if serves_web:
                    answered = probe(site, timeout=max(1.0, min(
                        2.0, deadline - time.monotonic())))
                else:
                    ping(site.get_storage_address(), count=1)
                    answered = 0
            except OSError as e:
                problem = str(e)
        all_running = infos and all(s == 'RUNNING' for s in states.values())
        if answered is not None and all_running:
            progress.done('site %s: %s' % (name, describe(infos)))
            return answered
        progress.update('starting %s: %s%s' % (
            name, describe(infos),
            ', answers' if answered is not None else ''))
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    progress.done()
    infos = supervisor.get_process_infos(name)
    if answered is not None:
        say('warning: site %s answers, but %s' % (name, describe(infos)))
        return answered
    reason, details = failure_details(supervisor, infos)
    elapsed = time.monotonic() - deadline + timeout
    raise OperationError(
        'site %s did not answer at %s after %ds: %s%s' % (
            name, site.get_base_url() or format_address(
                site.get_scgi_address()), elapsed, reason,
            ' (%s)' % problem if problem else ''), details)


def stop_dispatcher_first(supervisor, name):
    """(supervisor:Supervisor, name:str) -> None: stop the site's
    dispatcher before supervisord stops its group (which stops the
    workers first, by priority): the dispatcher stops accepting and its
    requests in hand finish on workers that still run, rather than wait
    in its queue for workers that are gone; a front end in front of
    several web hosts sends new requests to the others at once."""
    infos = supervisor.get_process_infos(name)
    if any(info['name'] == 'dispatcher' and info['statename'] == 'RUNNING'
           for info in infos):
        supervisor.stop_process('%s:dispatcher' % name, wait=True)


def rolling_restart(site, supervisor, progress, timeout=START_TIMEOUT):
    """Restart the site's workers one at a time, each waiting for the
    previous to be ready again, so that no request fails."""
    name = site.get_name()
    if make_site_conf(site) != _read(supervisor.get_site_conf_file(name)):
        say('note: the process configuration of %s changed (max_children?);'
             ' "qpd restart %s" applies it' % (name, name))
    infos = supervisor.get_process_infos(name)
    workers = sorted(i['name'] for i in infos if i['name'].startswith(
        'worker_'))
    for number, worker in enumerate(workers, 1):
        namespec = '%s:%s' % (name, worker)
        info = [i for i in infos if i['name'] == worker][0]
        path = info['stdout_logfile']
        offset = _size(path)
        progress.update('restarting %s: %s (%d of %d)' % (
            name, worker, number, len(workers)))
        supervisor.stop_process(namespec, wait=True)
        supervisor.start_process(namespec, wait=True)
        deadline = time.monotonic() + timeout
        while not _has_ready_line(path, offset):
            state = supervisor.call('getProcessInfo', namespec)['statename']
            if state in ('FATAL', 'BACKOFF') or time.monotonic() > deadline:
                progress.done()
                raise OperationError(
                    'worker %s of %s did not come back ready (%s)' % (
                        worker, name, state),
                    ['--- last lines of %s ---' % path] + tail(path, 15))
            time.sleep(0.1)
    progress.done('restarted %d workers of %s, one at a time' % (
        len(workers), name))


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _size(path):
    try:
        return os.path.getsize(path)
    except (FileNotFoundError, TypeError):
        return 0


def _has_ready_line(path, offset):
    """(path:str, offset:int) -> bool: has a READY line been written to
    the log after offset?"""
    try:
        with open(path, 'rb') as f:
            if os.fstat(f.fileno()).st_size < offset:
                offset = 0   # rotated
            f.seek(offset)
            return any(parse_ready_line(line) for line in f)
    except FileNotFoundError:
        return False
