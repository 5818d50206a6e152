"""Run wrk and parse what it prints.

    result = run_wrk('http://127.0.0.1:8000/hello', duration=5,
                     connections=10, close=False)
    result['rps'], result['p50_ms'], result['p99_ms'], result['non_2xx'],
    result['socket_errors'], result['ok']

parse_wrk(text) is pure (tested in tests/test_bench_smoke.py).
"""

import re
import shutil
import subprocess

__all__ = ['run_wrk', 'parse_wrk', 'parse_duration_ms', 'find_wrk',
           'WrkError']

_TIME_UNITS_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0,
                  'h': 3600000.0}


class WrkError(Exception):
    """wrk is missing, failed, or printed something we cannot read."""


def find_wrk():
    """() -> str: the wrk executable's path. Raises WrkError."""
    path = shutil.which('wrk')
    if path is None:
        raise WrkError('wrk is not installed (apt-get install wrk)')
    return path


def parse_duration_ms(text):
    """(text:str) -> float: a wrk time such as '812.00us', '1.20ms', '2.01s'
    or '1.00m', in milliseconds."""
    match = re.fullmatch(r'\s*([0-9.]+)\s*(us|ms|s|m|h)\s*', text)
    if not match:
        raise WrkError('not a wrk duration: %r' % text)
    return float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]


def parse_wrk(text):
    """(text:str) -> dict: the numbers in wrk's --latency output.

    Keys: requests (completed responses), seconds, rps, latency_avg_ms,
    latency_max_ms, p50_ms, p75_ms, p90_ms, p99_ms, non_2xx (wrk's
    "Non-2xx or 3xx responses"), errors (connect, read, write, timeout),
    socket_errors (their sum), ok (requests - non_2xx).
    """
    result = {}
    match = re.search(r'(\d+) requests in ([0-9.]+)(us|ms|s|m|h)', text)
    if not match:
        raise WrkError('no "N requests in T" line in wrk output:\n' + text)
    result['requests'] = int(match.group(1))
    result['seconds'] = parse_duration_ms(
        match.group(2) + match.group(3)) / 1000.0
    match = re.search(r'Requests/sec:\s*([0-9.]+)', text)
    if not match:
        raise WrkError('no "Requests/sec" line in wrk output:\n' + text)
    result['rps'] = float(match.group(1))
    match = re.search(r'^\s*Latency\s+(\S+)\s+(\S+)\s+(\S+)', text, re.M)
    if match:
        result['latency_avg_ms'] = _time_or_none(match.group(1))
        result['latency_max_ms'] = _time_or_none(match.group(3))
    else:
        result['latency_avg_ms'] = result['latency_max_ms'] = None
    for percent in (50, 75, 90, 99):
        match = re.search(r'^\s*%d(?:\.0+)?%%\s+(\S+)' % percent, text, re.M)
        result['p%d_ms' % percent] = (
            _time_or_none(match.group(1)) if match else None)
    match = re.search(r'Non-2xx or 3xx responses:\s*(\d+)', text)
    result['non_2xx'] = int(match.group(1)) if match else 0
    errors = dict(connect=0, read=0, write=0, timeout=0)
    match = re.search(
        r'Socket errors: connect (\d+), read (\d+), write (\d+), '
        r'timeout (\d+)', text)
    if match:
        errors = dict(zip(('connect', 'read', 'write', 'timeout'),
                          (int(g) for g in match.groups())))
    result['errors'] = errors
    result['socket_errors'] = sum(errors.values())
    result['ok'] = result['requests'] - result['non_2xx']
    if result['requests'] == 0:     # wrk prints 0.00us: there is no latency
        for key in ('latency_avg_ms', 'latency_max_ms', 'p50_ms', 'p75_ms',
                    'p90_ms', 'p99_ms'):
            result[key] = None
    return result


def _time_or_none(text):
    try:
        return parse_duration_ms(text)
    except WrkError:
        return None


def run_wrk(url, duration=5.0, connections=10, threads=1, close=False,
            timeout=5.0, headers=()):
    """(url:str, duration:float=5.0, connections:int=10, threads:int=1,
        close:bool=False, timeout:float=5.0, headers=()) -> dict

    Run wrk with --latency against url for duration seconds; with close,
    every request says `Connection: close`. Returns parse_wrk()'s dict plus
    'command' and 'output'. Raises WrkError when wrk fails.
    """
    command = [find_wrk(), '--latency',
               '-t%d' % threads, '-c%d' % max(connections, threads),
               '-d%ds' % max(1, round(duration)),
               '--timeout', '%ds' % max(1, round(timeout))]
    if close:
        command += ['-H', 'Connection: close']
    for header in headers:
        command += ['-H', header]
    command.append(url)
    try:
        completed = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, timeout=duration + timeout + 30)
    except subprocess.TimeoutExpired as e:
        raise WrkError('wrk did not finish: %s' % e)
    if completed.returncode != 0:
        raise WrkError('wrk exited %d:\n%s' % (completed.returncode,
                                               completed.stdout))
    result = parse_wrk(completed.stdout)
    result['command'] = command
    result['output'] = completed.stdout
    return result
