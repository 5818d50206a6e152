"""qpd.server.trial: does a site's code import? Asked in a scratch process.

    python -m qpd.server.trial HOME NAME [PACKAGE]

compiles every `.py` and `.qpy` module of the site's package (or of the
directory PACKAGE, tried as if it were the site's package: a release that
`qpd deploy` has not switched to yet), then imports its slash module and
checks its configuration, SitePublisher and SiteDirectory. Exit 0 when all
of that works (printing one JSON line: the values of the keys applied by
`restart`, so that a deploy can say when it needs `qpd restart`); else the error goes to stderr, as a traceback trimmed of
the import machinery's frames, whose last lines name the `.qpy` (or `.py`)
file and line, and the exit status is 1.

The import runs in a process of its own (`run_trial`) because a broken or
half-edited module must not be half-imported into a process that serves
(`qpd serve --reload` keeps its old workers until a change passes), and
because importing runs the site's module-level code. PACKAGE is imported
as `qpd.sites.NAME` (as it will be in the workers) while the site's paths
stay those of HOME.
"""

import importlib
import os
import subprocess
import sys
import traceback

__all__ = ['run_trial', 'compile_package', 'format_error', 'main']

TRIAL_TIMEOUT = 120.0


def format_error(error):
    """(error:BaseException) -> str: its traceback without the frames of
    the import machinery (importlib) or of qpd (but the last frame); a
    SyntaxError is only its file, line, text and caret."""
    if isinstance(error, SyntaxError):
        return ''.join(traceback.format_exception_only(type(error), error))
    trace = traceback.TracebackException.from_exception(error)
    qpd_directory = os.path.dirname(os.path.dirname(__file__)) + os.sep
    machinery = os.path.dirname(importlib.__file__) + os.sep
    keep = [frame for frame in trace.stack[:-1]
            if not frame.filename.startswith(('<frozen', qpd_directory,
                                              machinery))]
    keep.extend(trace.stack[-1:])
    trace.stack = traceback.StackSummary.from_list(keep)
    return ''.join(trace.format())


def compile_package(directory):
    """(directory:str) -> None: compile every .py and .qpy module under
    directory (not var/ nor static/), raising the first SyntaxError."""
    from qpd.qpy.compiler import compile_qpy
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in (
            'var', 'static', '__pycache__') and not d.startswith('.'))
        for filename in sorted(files):
            path = os.path.join(root, filename)
            if filename.endswith('.qpy'):
                with open(path, 'rb') as f:
                    compile_qpy(f.read(), path)
            elif filename.endswith('.py'):
                with open(path, 'rb') as f:
                    compile(f.read(), path, 'exec', dont_inherit=True)


def _import_package_from(name, package):
    """(name:str, package:str) -> None: make qpd.sites.NAME the package in
    directory package (so that `.slash` and every other submodule import
    from there)."""
    import importlib.util
    import types
    import qpd.sites
    full = 'qpd.sites.%s' % name
    package = os.path.realpath(package)
    init = os.path.join(package, '__init__.py')
    if os.path.exists(init):
        spec = importlib.util.spec_from_file_location(
            full, init, submodule_search_locations=[package])
        module = importlib.util.module_from_spec(spec)
        sys.modules[full] = module
        spec.loader.exec_module(module)
    else:
        module = types.ModuleType(full)
        module.__path__ = [package]
        sys.modules[full] = module
    setattr(qpd.sites, name, module)


def _try(home, name, package):
    """(home:str, name:str, package:str|None) -> {key: repr}: the values
    of the keys applied by `restart`; raises what fails."""
    from qpd.config import KEYS
    from qpd.site import Site
    site = Site(name, home=home)
    if package is None:
        package = site.get_package_directory()
    else:
        _import_package_from(name, package)
    compile_package(os.path.realpath(package))
    site.get_configuration()        # raises when the configuration is wrong
    site.get_publisher_class()
    site.get_directory_class()
    return {key.name: repr(site.get(key.name))
            for key in KEYS if key.restart}


def main(argv=None):
    """(argv:[str]=None) -> int: the exit status (see the docstring)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (2, 3):
        sys.stderr.write('usage: python -m qpd.server.trial HOME NAME '
                         '[PACKAGE]\n')
        return 2
    home, name = argv[:2]
    package = argv[2] if len(argv) == 3 else None
    try:
        restart_values = _try(home, name, package)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        sys.stderr.write(format_error(e))
        sys.stderr.flush()
        return 1
    import json
    sys.stdout.write(json.dumps(restart_values, sort_keys=True) + '\n')
    return 0


def run_trial(home, name, package=None, timeout=TRIAL_TIMEOUT):
    """(home:str, name:str, package:str=None, timeout:float=TRIAL_TIMEOUT)
        -> (ok:bool, error:str, restart_values:dict)
    Try the site (or the directory package as the site) in a scratch
    process; error is what it printed when it failed; restart_values maps
    each key applied by `restart` to the repr of its value."""
    argv = [sys.executable, '-m', 'qpd.server.trial', home, name]
    if package is not None:
        argv.append(package)
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, 'importing site %s took over %ss\n' % (
            name, timeout), {}
    values = {}
    if result.returncode == 0:
        import json
        try:
            values = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            pass
    return result.returncode == 0, result.stderr, values


if __name__ == '__main__':
    sys.exit(main())
