"""`qpd deploy NAME SRC` and `qpd rollback NAME`: releases switched atomically.

Layout, once a site has been deployed to (the first deploy converts it):

    sites/NAME -> ../releases/NAME/20261126-120501     a symlink: the running release
    releases/NAME/
      20261126-120501/        the site's package as copied from SRC
        slash.qpy ...
        var -> ../var         every release shares one var directory
      20261125-093000/        earlier releases (the last KEEP are kept)
      var/                    the database, sockets and logs
      history                 the releases switched to, one per line

`qpd deploy NAME SRC`:

1. copies SRC (without its var/, __pycache__ and dot files) into a
   staging directory beside the releases; nothing runs from there. A
   symlink is copied as a link, never as the file it points to, and one
   that leads out of SRC is refused (one line naming it): a link to
   /etc/hostname that StaticDirectory refuses to serve in SRC must not
   become a served file of the release. A link inside SRC is kept
   (relative, so that it points into the release);
2. tries it in a scratch process (qpd.server.trial): every .py and .qpy
   module compiles, the slash module imports, the configuration checks.
   A broken release is removed and refused with its error: nothing
   changed;
3. makes it a release (a rename), and switches `sites/NAME` to it
   atomically: a new symlink renamed over the old one. Any process that
   starts from now on imports the new release, whole; a worker that
   supervisord restarts during the copy imports the old one, whole;
4. replaces the workers one at a time, as `qpd restart NAME --rolling`
   does (under `qpd serve`: a new set, ready before the old one goes,
   qpd.server.serve.replace_serve_workers): each finishes the request in hand under the old code, the next
   worker starts with the new, and the dispatcher queues requests
   meanwhile, so none fails. A running worker never mixes releases: the
   site package's import path is pinned to the real directory of the
   release it started from (qpd.site), so even a lazy import in an old
   worker reads the old release.

`qpd rollback NAME` switches back to the release before the current one
(from `history`) the same way; `qpd show NAME` names the running release.

The dispatcher and the StorageServer keep running: a change of a key
applied by `restart` (see the configuration table) in the new release
takes `qpd restart NAME`, and deploy says so.

The first deploy moves the existing `sites/NAME` directory to
`releases/NAME/<stamp>-initial` and its var/ to `releases/NAME/var` (two
renames, each followed at once by the symlink that restores its path).
"""

import os
import shutil
import time

from qpd.ops.errors import OperationError
from qpd.ops.progress import Progress

__all__ = ['deploy', 'rollback', 'get_current_release', 'list_releases',
           'get_releases_directory', 'KEEP']

KEEP = 5            # releases kept besides the current one


def get_releases_directory(site):
    """(site:Site) -> str: home/releases/NAME"""
    return os.path.join(site.get_home(), 'releases', site.get_name())


def get_current_release(site):
    """(site:Site) -> str | None: the running release's name, or None when
    the site was never deployed (sites/NAME is a plain directory)."""
    link = site.get_package_directory()
    if not os.path.islink(link):
        return None
    return os.path.basename(os.path.realpath(link))


def list_releases(site):
    """(site:Site) -> [str]: the releases on disk, oldest first."""
    directory = get_releases_directory(site)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(name for name in names
                  if not name.startswith('.') and name not in ('var',
                                                               'history')
                  and os.path.isdir(os.path.join(directory, name)))


def _history_path(site):
    return os.path.join(get_releases_directory(site), 'history')


def _read_history(site):
    try:
        with open(_history_path(site)) as f:
            return [line.strip() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def _append_history(site, release):
    with open(_history_path(site), 'a') as f:
        f.write(release + '\n')
        f.flush()
        os.fsync(f.fileno())


def _new_name(site, suffix=''):
    """(site:Site, suffix:str='') -> str: a release name not yet used."""
    stamp = time.strftime('%Y%m%d-%H%M%S', time.gmtime()) + suffix
    directory = get_releases_directory(site)
    name, n = stamp, 1
    while os.path.lexists(os.path.join(directory, name)) or \
            os.path.lexists(os.path.join(directory, '.staging-' + name)):
        n += 1
        name = '%s-%d' % (stamp, n)
    return name


def _ignore_top_var(source):
    """(source:str) -> ignore function for shutil.copytree: var/ at the
    top, __pycache__, compiled files and dot files anywhere."""
    top = os.path.abspath(source)

    def ignore(directory, names):
        skipped = {n for n in names if n.startswith('.') or n ==
                   '__pycache__' or n.endswith(('.pyc', '.pyo'))}
        if os.path.abspath(directory) == top and 'var' in names:
            skipped.add('var')
        return skipped
    return ignore


def _check_links(source, ignore):
    """(source:str, ignore) -> {str: str}: the symlinks copytree will
    copy (relative path -> a relative target inside source); an
    OperationError naming the first one that leads out of source."""
    top = os.path.realpath(source)
    links = {}
    for directory, dirs, files in os.walk(source):
        skipped = ignore(directory, dirs + files)
        dirs[:] = [d for d in dirs if d not in skipped]
        for name in dirs + files:
            path = os.path.join(directory, name)
            if name in skipped or not os.path.islink(path):
                continue
            real = os.path.realpath(path)
            if os.path.commonpath([real, top]) != top:
                raise OperationError(
                    '%s is a symlink to %s, outside %s: a release holds no '
                    'link out of its source (the static directory would not '
                    'serve it); copy the file in or remove the link' % (
                        path, os.readlink(path), source))
            links[os.path.relpath(path, source)] = os.path.relpath(
                real, os.path.realpath(directory))
    return links


def _stage(site, source, name):
    """(site, source:str, name:str) -> str: the staging copy's path."""
    directory = get_releases_directory(site)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    staging = os.path.join(directory, '.staging-' + name)
    ignore = _ignore_top_var(source)
    links = _check_links(source, ignore)
    shutil.copytree(source, staging, ignore=ignore, symlinks=True)
    for path, target in links.items():
        # An absolute link into source would point at source, not the
        # release.
        copied = os.path.join(staging, path)
        os.unlink(copied)
        os.symlink(target, copied)
    os.symlink(os.path.join(os.pardir, 'var'), os.path.join(staging, 'var'))
    return staging


def _convert(site):
    """(site:Site) -> str | None: make a plain sites/NAME the first
    release (see the module's docstring); its name, or None when the site
    already runs from a release."""
    package = site.get_package_directory()
    if os.path.islink(package):
        return None
    directory = get_releases_directory(site)
    shared_var = os.path.join(directory, 'var')
    name = _new_name(site, '-initial')
    release = os.path.join(directory, name)
    os.rename(package, release)
    os.symlink(os.path.relpath(release, os.path.dirname(package)), package)
    var = os.path.join(release, 'var')
    if os.path.isdir(var) and not os.path.islink(var):
        os.rename(var, shared_var)
    else:
        os.makedirs(shared_var, mode=0o700, exist_ok=True)
    os.symlink(os.path.join(os.pardir, 'var'), var)
    _append_history(site, name)
    return name


def _switch(site, name):
    """(site:Site, name:str) -> None: point sites/NAME at release name, in
    one rename."""
    package = site.get_package_directory()
    release = os.path.join(get_releases_directory(site), name)
    temporary = os.path.join(os.path.dirname(package),
                             '.%s.switching' % site.get_name())
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(os.path.relpath(release, os.path.dirname(package)),
               temporary)
    os.rename(temporary, package)
    _append_history(site, name)


def _replace_workers(site, progress):
    """(site, progress) -> bool: replace the workers: one at a time when
    the site runs under supervisord, all at once (the new set ready before
    the old goes) when `qpd serve` runs it; False when neither does."""
    from qpd.ops.lifecycle import rolling_restart
    from qpd.ops.supervisor import Supervisor
    from qpd.server.serve import replace_serve_workers
    supervisor = Supervisor(site.get_home())
    if (supervisor.is_running()
            and site.get_name() in supervisor.get_group_names()):
        rolling_restart(site, supervisor, progress)
        return True
    try:
        return replace_serve_workers(site, progress=progress)
    except RuntimeError as e:
        progress.done()
        raise OperationError(str(e))


def _restart_keys_changed(old_configuration, new_values):
    """(old_configuration:dict|None, new_values:{key: repr}) -> [str]: keys
    applied by `restart` whose values differ in the new release."""
    if old_configuration is None:
        return []
    return sorted(name for name, value in new_values.items()
                  if repr(old_configuration.get(name)) != value)


def _prune(site, keep=KEEP):
    """(site, keep:int=KEEP) -> None: remove releases beyond the `keep`
    most recently used ones (never the current one)."""
    current = get_current_release(site)
    recent = []
    for name in reversed(_read_history(site)):
        if name not in recent:
            recent.append(name)
    kept = set(recent[:keep + 1]) | {current}
    directory = get_releases_directory(site)
    for name in list_releases(site):
        if name not in kept:
            shutil.rmtree(os.path.join(directory, name), ignore_errors=True)


def _old_configuration(site):
    try:
        return dict(site.get_configuration())
    except Exception:
        return None


def deploy(site, source, progress=None):
    """(site:Site, source:str, progress:Progress=None) -> str: deploy the
    site package in directory source (see the module's docstring); the new
    release's name. OperationError when source does not import."""
    from qpd.server.trial import run_trial
    progress = progress or Progress()
    source = os.path.abspath(source)
    if not any(os.path.isfile(os.path.join(source, 'slash' + ext))
               for ext in ('.qpy', '.py')):
        raise OperationError('%s holds no slash.qpy or slash.py: not a '
                             'site package' % source)
    old_configuration = _old_configuration(site)
    name = _new_name(site)
    progress.update('deploying %s: copying %s' % (site.get_name(), source))
    staging = _stage(site, source, name)
    progress.update('deploying %s: trying release %s' % (
        site.get_name(), name))
    ok, error, new_values = run_trial(site.get_home(), site.get_name(),
                                      staging)
    if not ok:
        shutil.rmtree(staging, ignore_errors=True)
        progress.done()
        raise OperationError(
            'release refused: site %s from %s does not import; the site '
            'is unchanged' % (site.get_name(), source),
            error.rstrip('\n').splitlines())
    _convert(site)
    release = os.path.join(get_releases_directory(site), name)
    os.rename(staging, release)
    _switch(site, name)
    progress.update('deploying %s: switched to %s' % (site.get_name(), name))
    replaced = _replace_workers(site, progress)
    progress.done('%s now runs release %s%s' % (
        site.get_name(), name, '' if replaced else
        ' (not running under supervisord or qpd serve: started processes '
        'will use it)'))
    changed = _restart_keys_changed(old_configuration, new_values)
    if changed:
        print('note: %s changed in the new release; "qpd restart %s" '
              'applies them' % (', '.join(changed), site.get_name()),
              flush=True)
    _prune(site)
    return name


def rollback(site, progress=None):
    """(site:Site, progress:Progress=None) -> str: switch back to the
    release before the current one; its name."""
    progress = progress or Progress()
    current = get_current_release(site)
    if current is None:
        raise OperationError('site %s was never deployed: nothing to roll '
                             'back to' % site.get_name())
    on_disk = set(list_releases(site))
    previous = None
    for name in reversed(_read_history(site)):
        if name != current and name in on_disk:
            previous = name
            break
    if previous is None:
        raise OperationError('site %s has no earlier release to roll back '
                             'to' % site.get_name())
    _switch(site, previous)
    replaced = _replace_workers(site, progress)
    progress.done('%s rolled back from %s to %s%s' % (
        site.get_name(), current, previous, '' if replaced else
        ' (not running under supervisord or qpd serve)'))
    return previous

