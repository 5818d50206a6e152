"""Reading log files: the last lines, and following one as it grows."""

import os
import sys
import time

__all__ = ['tail', 'follow']


def tail(path, count=40):
    """(path:str, count:int=40) -> [str]: the last `count` lines of a file
    (fewer, or none when it is missing), without their newlines."""
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            block = 8192
            data = b''
            while size > 0 and data.count(b'\n') <= count:
                step = min(block, size)
                size -= step
                f.seek(size)
                data = f.read(step) + data
                block *= 2
    except OSError:
        return []
    lines = data.decode('utf-8', 'replace').splitlines()
    return lines[-count:] if count > 0 else []


def follow(path, out=None, interval=0.25, stop=None):
    """(path:str, out=sys.stdout, interval:float=0.25, stop=None) -> None

    Print what is appended to `path` until interrupted (or until the
    callable `stop` returns true), starting at its current end and
    reopening it when it is rotated or replaced."""
    out = out or sys.stdout
    f = None
    inode = None
    position = 0
    skip_existing = os.path.exists(path)
    while not (stop and stop()):
        try:
            status = os.stat(path)
        except FileNotFoundError:
            status = None
        if status is not None and (f is None or status.st_ino != inode
                                   or status.st_size < position):
            if f is not None:
                f.close()
            f = open(path, 'rb')
            if skip_existing:
                f.seek(0, os.SEEK_END)
                skip_existing = False
            inode = status.st_ino
            position = f.tell()
        if f is not None:
            data = f.read()
            if data:
                position = f.tell()
                out.write(data.decode('utf-8', 'replace'))
                out.flush()
                continue
        time.sleep(interval)
    if f is not None:
        f.close()
