"""qpd.ops: what a user touches, behind the `qpd` command.

`commands` holds one function per subcommand (each takes the argparse
namespace and returns an exit status); the other modules each do one job:

- `supervisor`: supervisord's configuration files and control over its
  unix socket (XML-RPC).
- `newsite`: `qpd new`, a copy of the proto site with free ports.
- `probe`: asking a site for its home page (HTTP or SCGI).
- `pool`: the dispatcher's pool stats, over the control socket.
- `logs`: the tail of a log, and following it.
- `progress`: one line of progress for long work.
- `shell`: `qpd shell`, a Python session on a site's live database.
- `pack`: packing a live database through its StorageServer.
- `build`: front-end configuration and the cgi2scgi adapter
  (`cgi2scgi.c`, and `cgi2scgi` for the Python fallback).
- `errors`: OperationError, an operation that failed (exit status 1).
- `testing`: helpers for tests that run real sites under supervisord.
"""

__all__ = []
