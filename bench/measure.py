"""What the benchmarks measure besides requests: medians, resident memory
and CPU time per role. Starting and stopping processes, ports and HTTP
probes are the shared harness's (tests/harness)."""

import statistics

__all__ = ['median', 'rss_of', 'cpu_times', 'cpu_delta', 'passive_opens']


def median(values):
    """(values:[float|None]) -> float | None: the median of the values that
    are not None; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values)


def rss_of(pids):
    """(pids:[int]) -> [int]: resident set size in bytes of each live pid."""
    import psutil
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            pass
    return sizes


def cpu_times(role_pids):
    """(role_pids:{role: [pid]}) -> {role: {pid: seconds}}: user + system
    CPU time used so far by each live process."""
    import psutil
    times = {}
    for role, pids in role_pids.items():
        times[role] = {}
        for pid in pids:
            try:
                cpu = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            times[role][pid] = cpu.user + cpu.system
    return times


def cpu_delta(before, after):
    """(before, after: cpu_times() results) -> {role: seconds}: the CPU
    each role used in between (processes present in both)."""
    delta = {}
    for role, pids in before.items():
        delta[role] = sum(after.get(role, {}).get(pid, start) - start
                          for pid, start in pids.items())
    return delta


def passive_opens(path='/proc/net/snmp'):
    """(path:str='/proc/net/snmp') -> int | None: the TCP connections this
    network namespace has accepted so far (Tcp PassiveOpens); None where
    the file is not there. Two readings around a run say how many new
    connections its requests came on."""
    try:
        with open(path) as f:
            lines = [line.split() for line in f if line.startswith('Tcp:')]
        names, values = lines[0], lines[1]
        return int(values[names.index('PassiveOpens')])
    except (OSError, IndexError, ValueError):
        return None
