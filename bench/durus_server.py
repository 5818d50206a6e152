"""bench.durus_server: the StorageServer process of the storage benches
(durus_commits.py, storage_pg.py): started, waited for until it answers on
its socket, stopped."""

import signal
import subprocess

__all__ = ['start', 'stop']


def start(argv, kind, sock):
    """(argv:[str], kind:str, sock:str) -> Popen
    Run argv (a StorageServer that prints a READY line); SystemExit naming
    kind when it does not start."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    if not line.startswith('READY'):
        process.kill()
        raise SystemExit('the %s StorageServer did not start: %s%s' % (
            kind, line, process.stdout.read()))
    from durus.storage_server import wait_for_server
    wait_for_server(address=sock, sleeptime=0.02, maxtries=500)
    return process


def stop(process):
    """(process:Popen) -> None: SIGTERM, then SIGKILL after 10 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
