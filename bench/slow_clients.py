"""Slow clients: keep N connections open, each dribbling a request head one
byte every INTERVAL seconds and never finishing it.

    python bench/slow_clients.py HOST PORT [--clients 100] [--interval 1.0]

Prints `READY <n>` (flushed) once every client has connected and sent its
first byte, then runs until SIGTERM or SIGINT, when it prints one line of
JSON: {"clients", "connects", "closed_by_server", "bytes_sent",
"connect_errors"}. A client whose connection the server closes (a header
deadline, a 408, a reset) connects again after a short pause, so the load
stays at N slow clients for the whole run.

SlowClients is usable in-process too (run() is a coroutine).
"""

import argparse
import asyncio
import json
import signal
import sys

__all__ = ['SlowClients', 'head_bytes', 'main']


def head_bytes(host, port):
    """(host:str, port:int) -> generator of one-byte bytes: a request head
    that never ends (one header line after another)."""
    start = ('GET /hello HTTP/1.1\r\nHost: %s:%s\r\n' % (host, port)).encode()
    for byte in start:
        yield bytes([byte])
    number = 0
    while True:
        for byte in ('X-Slow-%d: a\r\n' % number).encode():
            yield bytes([byte])
        number += 1


class SlowClients:
    """(host:str, port:int, clients:int=100, interval:float=1.0)"""

    def __init__(self, host, port, clients=100, interval=1.0):
        self.host = host
        self.port = port
        self.clients = clients
        self.interval = interval
        self.stats = dict(clients=clients, connects=0, closed_by_server=0,
                          bytes_sent=0, connect_errors=0)
        self.started = 0
        self.all_started = None
        self.stopping = None

    async def run(self, on_ready=None):
        """(on_ready=None) -> None: run until stop(); call on_ready() once
        every client has sent its first byte."""
        self.all_started = asyncio.Event()
        self.stopping = asyncio.Event()
        tasks = [asyncio.create_task(self._client(index))
                 for index in range(self.clients)]
        waiter = asyncio.create_task(self.all_started.wait())
        stopper = asyncio.create_task(self.stopping.wait())
        await asyncio.wait([waiter, stopper],
                           return_when=asyncio.FIRST_COMPLETED)
        if self.all_started.is_set() and on_ready is not None:
            on_ready()
        await self.stopping.wait()
        for task in tasks + [waiter]:
            task.cancel()
        await asyncio.gather(*tasks, waiter, return_exceptions=True)

    def stop(self):
        """() -> None"""
        self.stopping.set()

    async def _client(self, index):
        # Spread the first bytes over one interval.
        await asyncio.sleep(self.interval * index / max(1, self.clients))
        first = True
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    self.host, self.port)
            except OSError:
                self.stats['connect_errors'] += 1
                await asyncio.sleep(0.2)
                continue
            self.stats['connects'] += 1
            closed = asyncio.create_task(reader.read(65536))
            try:
                for byte in head_bytes(self.host, self.port):
                    writer.write(byte)
                    await writer.drain()
                    self.stats['bytes_sent'] += 1
                    if first:
                        first = False
                        self.started += 1
                        if self.started == self.clients:
                            self.all_started.set()
                    done, _ = await asyncio.wait([closed],
                                                 timeout=self.interval)
                    if done:
                        break
            except (ConnectionError, OSError):
                pass
            finally:
                closed.cancel()
                writer.close()
            self.stats['closed_by_server'] += 1
            await asyncio.sleep(0.1)


def main(argv=None):
    """(argv:[str]=None) -> int"""
    parser = argparse.ArgumentParser(prog='slow_clients.py')
    parser.add_argument('host')
    parser.add_argument('port', type=int)
    parser.add_argument('--clients', type=int, default=100)
    parser.add_argument('--interval', type=float, default=1.0)
    args = parser.parse_args(argv)
    slow = SlowClients(args.host, args.port, args.clients, args.interval)

    async def go():
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, slow.stop)
        await slow.run(on_ready=lambda: print(
            'READY %d' % args.clients, flush=True))

    asyncio.run(go())
    print(json.dumps(slow.stats), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
