"""Shared fixtures for every test.

Durus StorageServer, for real (no mocks)
----------------------------------------

`durus_server` starts `python -m qpd.storage.server FILE SOCKET` in a
subprocess on a fresh database file and a private unix socket (in a short
temporary directory: unix socket paths are limited to ~100 bytes), waits
for its READY line, and yields a `DurusServer`:

    def test_something(durus_server):
        connection = durus_server.connect()        # a durus Connection
        durus_server.address                       # the socket path
        durus_server.durus_file                    # the FileStorage file
        durus_server.kill()                        # SIGKILL, then
        durus_server.start()                       # start again, same file

`durus_address` yields just the address, for tests that connect on their
own (`qpd.storage.connection.connect(durus_address)`). Every server and
connection is stopped at the end of the test.

`DurusServer(directory)` can also be used directly (e.g. in a
module-scoped fixture of your own); call `.stop()` when done.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

__all__ = ['DurusServer']


class DurusServer:
    """(directory:str, name:str='test', tcp=False)
    A Durus StorageServer subprocess serving directory/NAME.durus on
    directory/durus.sock (or on a free TCP port of 127.0.0.1 with tcp=True).
    """

    def __init__(self, directory, name='test', tcp=False):
        self.directory = directory
        self.name = name
        self.durus_file = os.path.join(directory, name + '.durus')
        self.tcp = tcp
        if tcp:
            self.address = None     # set from the READY line
        else:
            self.address = os.path.join(directory, 'durus.sock')
        self.process = None
        self.ready_line = None
        self.connections = []

    def start(self):
        """() -> self: start the server and wait until it listens."""
        assert self.process is None or self.process.poll() is not None
        if self.tcp:
            # Keep the same port across restarts, once one was chosen.
            address = '%s:%s' % self.address if self.address else '127.0.0.1:0'
        else:
            address = self.address
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'qpd.storage.server', self.durus_file,
             address, '--name', self.name],
            stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()    # pytest-timeout guards this
        if not line.startswith('READY durus'):
            self.process.kill()
            raise RuntimeError('durus server did not start: %r' % line)
        self.ready_line = line.strip()
        if self.tcp:
            host, port = self.ready_line.split()[-1].rsplit(':', 1)
            self.address = (host, int(port))
        return self

    def get_pid(self):
        """() -> int"""
        return self.process.pid

    def is_running(self):
        """() -> bool"""
        return self.process is not None and self.process.poll() is None

    def connect(self, cache_size=10000):
        """(cache_size:int=10000) -> durus Connection, closed at teardown"""
        from qpd.storage.connection import connect
        connection = connect(self.address, cache_size=cache_size)
        self.connections.append(connection)
        return connection

    def kill(self):
        """() -> None: SIGKILL, as a crash would (the socket file stays)."""
        if self.is_running():
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self):
        """() -> None: SIGTERM (clean), SIGKILL if that does not work."""
        for connection in self.connections:
            try:
                connection.get_storage().close()
            except Exception:
                pass
        self.connections = []
        if self.is_running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def durus_server():
    """A running DurusServer on a new database; stopped after the test."""
    directory = tempfile.mkdtemp(prefix='qpd-durus-', dir='/tmp')
    server = DurusServer(directory)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def durus_address(durus_server):
    """The unix socket path of a running DurusServer (see durus_server)."""
    return durus_server.address
