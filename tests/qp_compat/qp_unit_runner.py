"""QP 1.1's own unit tests, ported by `qpd port` and run against qpd.

    python -m tests.qp_compat.qp_unit_runner [TARBALL]    # the report
    python -m tests.qp_compat.qp_unit_runner TARBALL --json WORKDIR

QP's tests (`*/test/utest_*.py` in the release tarball) are sancho-style:
a class derived from `sancho.utest.UTest` whose public methods are the
tests, run in the order they are defined, each between the class's `_pre`
and `_post` when it has them, checking with plain `assert`; `raises(exc,
f, *args, **kw)` calls f and fails unless it raises exc. sancho is not on
Python 3, so this module is `sancho.utest` for them (put in sys.modules
before a test file is imported), and runs them itself instead of letting
`UTest()` run at import.

The steps, each a function: `unpack` copies the test files (only them, at
their paths in the tarball) into a work directory; `port` runs `qpd port`
on it, as a porter would (its exit is 1 when it left lines for a person:
those lines are part of the report); `run_directory` imports each ported
file in this process and runs its classes. Each file gets a fresh import;
the publisher is cleared between tests whatever the test does. The
outcome of one test is `Outcome`: its id `FILE::Class.method` (FILE
relative to the release, `fill/test/utest_form.py`), passed or not, and
for a failure the exception and the line of the test file it came from.

A file that does not import fails as one outcome per test method it
defines (read from the ported source with `ast`), so the counts stay per
method; but a name qpd lacks (`from qpd.web.request import LineInput`,
which `qpd port` reports as left) is given a stand-in, `Missing`, that
fails only the tests that use it. Classifying failures is the caller's
business (tests/qp_compat/test_qp_unit_tests.py keeps the list).
"""

import ast
import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import traceback
import types

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def find_tarball():
    """() -> str
    Where QP 1.1's tarball is expected (it may be absent): QP_TARBALL in
    the environment, else `../shared/qp-1.1.tar.gz` from the repository's
    root (tests/integration/test_qp_demo_sites.py looks in the same places).
    """
    return os.environ.get('QP_TARBALL') or os.path.normpath(
        os.path.join(ROOT, '..', 'shared', 'qp-1.1.tar.gz'))


# sancho.utest, for QP's tests ------------------------------------------------

class UTest:
    """sancho's test class: the public methods are the tests. Constructing
    one does not run them here (QP's `if __name__ == '__main__': Test()`
    never runs on import); `run_class` does."""


def raises(exception, function, *args, **kwargs):
    """(exception, function, *args, **kwargs) -> the exception raised
    Fails (AssertionError) unless function(*args, **kwargs) raises
    exception."""
    try:
        function(*args, **kwargs)
    except exception as error:
        return error
    raise AssertionError('%s did not raise %s' % (
        getattr(function, '__name__', function), exception.__name__))


def install_sancho():
    """() -> None: this module as `sancho.utest`"""
    package = types.ModuleType('sancho')
    utest = types.ModuleType('sancho.utest')
    utest.UTest = UTest
    utest.raises = raises
    package.utest = utest
    package.__path__ = []
    sys.modules['sancho'] = package
    sys.modules['sancho.utest'] = utest


# unpack and port -----------------------------------------------------------

def unpack(tarball, directory):
    """(tarball:str, directory:str) -> [str]
    The release's `*/test/utest_*.py` files copied into directory at their
    paths in the release (`fill/test/utest_form.py`); their paths there."""
    written = []
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            parts = member.name.split('/')
            if (member.isfile() and len(parts) == 4 and parts[2] == 'test'
                    and parts[3].startswith('utest_')
                    and parts[3].endswith('.py')):
                relative = os.path.join(*parts[1:])
                target = os.path.join(directory, relative)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.extractfile(member) as source, \
                        open(target, 'wb') as out:
                    out.write(source.read())
                written.append(relative)
    return sorted(written)


def port(directory):
    """(directory:str) -> (exit_code:int, report:[str])
    `qpd port directory`, as a porter runs it; report: what it says on
    stderr (a `FILE:LINE: ...` line for each thing left or noted, then its
    counts), paths made relative to directory."""
    process = subprocess.run(
        [sys.executable, '-m', 'qpd', 'port', directory],
        capture_output=True, text=True, timeout=300)
    prefix = directory.rstrip(os.sep) + os.sep
    report = [line.replace(prefix, '') for line in
              process.stderr.splitlines() if line.strip()]
    if process.returncode not in (0, 1):
        raise RuntimeError('qpd port failed (%s):\n%s%s' % (
            process.returncode, process.stdout, process.stderr))
    return process.returncode, report


# run -----------------------------------------------------------------------

class Outcome:
    """(test_id:str, passed:bool, error:str='', where:str='')
    test_id: `FILE::Class.method`; error: `Type: message` of a failure;
    where: the test file's line it came from (`FILE:LINE: source`)."""

    def __init__(self, test_id, passed, error='', where=''):
        self.test_id = test_id
        self.passed = passed
        self.error = error
        self.where = where

    def to_json(self):
        return dict(test_id=self.test_id, passed=self.passed,
                    error=self.error, where=self.where)

    @classmethod
    def from_json(cls, data):
        return cls(**data)

    def __repr__(self):
        return '<Outcome %s %s>' % (self.test_id,
                                    'ok' if self.passed else self.error)


def _describe(error, path, relative):
    """(error, path, relative) -> (error:str, where:str)"""
    text = traceback.format_exception_only(type(error), error)[-1].strip()
    where = ''
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            where = '%s:%s: %s' % (relative, frame.lineno,
                                   (frame.line or '').strip())
            break
    return text[:500], where


def _clear_publisher():
    from qpd.web.common import clear_publisher
    clear_publisher()


def test_methods(klass):
    """(klass) -> [str]: sancho's tests of klass, in definition order"""
    return [name for name, value in vars(klass).items()
            if not name.startswith('_') and callable(value)]


def _declared_tests(path):
    """(path:str) -> [(class, method)]: read from the source, for a file
    that does not import"""
    try:
        with open(path, encoding='utf-8') as source:
            tree = ast.parse(source.read())
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if (isinstance(item, ast.FunctionDef)
                        and not item.name.startswith('_')):
                    found.append((node.name, item.name))
    return found


class Missing:
    """(module:str, name:str) A name a QP test imports that qpd does not
    have (`qpd port` reported the import as left for a person): it stands
    in for the name so that the file's other tests run, and fails the
    tests that use it."""

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __call__(self, *args, **kwargs):
        raise NotImplementedError('%s has no %s' % (self.module, self.name))

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        self()


_CANNOT_IMPORT = re.compile(r"cannot import name '(\w+)' from '([\w.]+)'")


def _import_file(path, module_name):
    """(path, module_name) -> (module, missing:[Missing])
    The file imported; a name qpd lacks gets a Missing in its module."""
    missing = []
    while True:
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                spec.loader.exec_module(module)
            return module, missing
        except ImportError as error:
            found = _CANNOT_IMPORT.search(str(error))
            if not found or len(missing) > 10:
                raise
            name, target = found.groups()
            placeholder = Missing(target, name)
            setattr(sys.modules[target], name, placeholder)
            missing.append(placeholder)


def run_file(path, relative):
    """(path:str, relative:str) -> [Outcome]: the tests of one ported file"""
    module_name = 'qp_utest_' + relative.replace('/', '_')[:-3]
    outcomes = []
    try:
        module, missing = _import_file(path, module_name)
    except Exception as error:
        text, where = _describe(error, path, relative)
        for class_name, method in _declared_tests(path):
            outcomes.append(Outcome('%s::%s.%s' % (relative, class_name,
                                                    method),
                                    False, 'import: ' + text, where))
        return outcomes
    try:
        for value in list(vars(module).values()):
            if (isinstance(value, type) and issubclass(value, UTest)
                    and value.__module__ == module_name):
                outcomes.extend(run_class(value, path, relative))
    finally:
        for placeholder in missing:
            delattr(sys.modules[placeholder.module], placeholder.name)
    return outcomes


def run_class(klass, path, relative):
    """(klass, path, relative) -> [Outcome]"""
    outcomes = []
    for name in test_methods(klass):
        test_id = '%s::%s.%s' % (relative, klass.__name__, name)
        _clear_publisher()
        try:
            instance = klass()
            with contextlib.redirect_stdout(io.StringIO()):
                if hasattr(instance, '_pre'):
                    instance._pre()
                try:
                    getattr(instance, name)()
                finally:
                    if hasattr(instance, '_post'):
                        instance._post()
        except Exception as error:
            text, where = _describe(error, path, relative)
            outcomes.append(Outcome(test_id, False, text, where))
        else:
            outcomes.append(Outcome(test_id, True))
        finally:
            _clear_publisher()
    return outcomes


def run_directory(directory, files):
    """(directory:str, files:[str]) -> [Outcome]"""
    install_sancho()
    outcomes = []
    for relative in files:
        outcomes.extend(run_file(os.path.join(directory, relative),
                                 relative))
    return outcomes


def run(tarball, directory):
    """(tarball:str, directory:str) -> dict
    Unpack, port and run, in this process: the JSON the test reads
    (`port_exit`, `port_report`, `outcomes`)."""
    files = unpack(tarball, directory)
    exit_code, report = port(directory)
    outcomes = run_directory(directory, files)
    return dict(files=files, port_exit=exit_code, port_report=report,
                outcomes=[o.to_json() for o in outcomes])


def run_subprocess(tarball, directory, timeout=600):
    """(tarball:str, directory:str) -> dict: `run` in a fresh interpreter,
    so QP's tests' global state (publishers, sys.modules) stays there"""
    process = subprocess.run(
        [sys.executable, '-m', 'tests.qp_compat.qp_unit_runner', tarball,
         '--json', directory],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if process.returncode != 0:
        raise RuntimeError('the runner failed (%s):\n%s%s' % (
            process.returncode, process.stdout, process.stderr))
    return json.loads(process.stdout.splitlines()[-1])


def format_report(result, classify=None):
    """(result:dict, classify=None) -> str: one line per failure, then the
    counts. classify(test_id) -> a label or None (then 'unclassified')."""
    lines = []
    outcomes = [Outcome.from_json(o) for o in result['outcomes']]
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        label = classify(outcome.test_id) if classify else None
        lines.append('FAIL %s [%s]\n     %s\n     %s' % (
            outcome.test_id, label or 'unclassified', outcome.error,
            outcome.where))
    lines.extend(result['port_report'])
    lines.append('%d of %d passed, %d failed' % (
        len(outcomes) - len(failed), len(outcomes), len(failed)))
    return '\n'.join(lines)


def main(argv):
    if len(argv) >= 3 and argv[1] == '--json':
        sys.stdout.write(json.dumps(run(argv[0], argv[2])) + '\n')
        return 0
    import tempfile
    tarball = argv[0] if argv else find_tarball()
    if not os.path.exists(tarball):
        sys.stderr.write('QP 1.1 is not at %s: name it (python -m '
                         'tests.qp_compat.qp_unit_runner TARBALL) or set '
                         'QP_TARBALL\n' % tarball)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        result = run_subprocess(tarball, directory)
    print(format_report(result))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
