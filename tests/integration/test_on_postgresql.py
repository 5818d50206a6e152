"""The site tests again, on PostgreSQL: a site switched to
durus_storage='postgresql' serves the same pages with the same tests
passing (issue 24).

FILES (pages and the publisher, sessions, forms and their tokens,
sign-in, the StorageServer under a publisher, the dispatcher and its
workers serving a site, faults among them, DurusDirectory in a browser)
run in a pytest subprocess with QPD_TEST_STORAGE=postgresql, which puts
their StorageServers and sites on new databases of that run's own
PostgreSQL cluster (harness.storage); every one must pass, none fail.
Tests marked `file_storage` (they look at the Durus file itself) are
skipped there with their reason, which the report lists.

This test asks for the `postgres` fixture only so that it is skipped (or
fails) exactly where the other PostgreSQL tests are.
"""

import os
import re
import subprocess
import sys

import pytest

from harness import storage

pytest.importorskip('psycopg')

pytestmark = pytest.mark.timeout(900)

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FILES = [
    'test_publish.py',
    'test_session.py',
    'test_form_token.py',
    'integration/test_signin.py',
    'integration/test_wsgi.py',
    'integration/test_publisher_storage.py',
    'integration/test_dispatcher.py',
    'integration/test_dispatcher_faults.py',
    'integration/test_durus_directory.py',
]

_COUNT = re.compile(r'(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|'
                    r'deselected)')


def _counts(output):
    """(output:str) -> {outcome: int}: from pytest's last summary line."""
    lines = [line for line in output.splitlines()
             if re.search(r'\d+ (passed|failed|errors?|skipped).* in ', line)]
    counts = {}
    for number, outcome in _COUNT.findall(lines[-1] if lines else ''):
        counts['error' if outcome.startswith('error') else outcome] = \
            int(number)
    return counts


def test_site_tests_pass_on_postgresql(postgres):
    if storage.is_postgresql():
        pytest.skip('this run is on PostgreSQL already (QPD_TEST_STORAGE)')
    env = dict(os.environ, QPD_TEST_STORAGE='postgresql')
    env.pop('PYTEST_XDIST_WORKER', None)
    env.pop('PYTEST_ADDOPTS', None)
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider',
         '-o', 'addopts='] + [os.path.join(TESTS, name) for name in FILES],
        cwd=os.path.dirname(TESTS), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=840)
    counts = _counts(result.stdout)
    skips = [line for line in result.stdout.splitlines()
             if line.startswith('SKIPPED')]
    report = 'on PostgreSQL: %s%s' % (
        ', '.join('%d %s' % (n, outcome)
                  for outcome, n in sorted(counts.items())) or 'no counts',
        ''.join('\n  ' + line for line in skips))
    assert result.returncode == 0 and not counts.get('failed') and \
        not counts.get('error') and counts.get('passed'), \
        '%s\n(exit %s)\n%s' % (report, result.returncode, result.stdout[-6000:])
    print(report)
