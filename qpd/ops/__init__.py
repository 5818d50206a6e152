"""qpd.ops: what a user touches, behind the `qpd` command.

`commands` holds one function per subcommand (each takes the argparse
namespace and returns an exit status); the other modules each do one job:

- `supervisor`: supervisord's configuration files and control over its
  unix socket (XML-RPC).
- `newsite`: `qpd new`, a copy of the proto site with free ports.
- `probe`: asking a site for its home page (HTTP or SCGI).
- `logs`: the tail of a log, and following it; `logrotate`: the snippet
  `qpd build --logrotate` prints.
- `progress`: one line of progress for long work.
- `shell`: `qpd shell`, a Python session on a site's live database.
- `pack`: packing a live database through its StorageServer.
- `backup`: `qpd backup` and `qpd check`, on the live file.
- `certs`: `qpd certs`, the site's CA and host certificates.
- `deploy`: `qpd deploy` and `qpd rollback`, releases switched by symlink.
- `port`: `qpd port`, a QP site's imports rewritten to qpd's.
- `build`: front-end configuration and the cgi2scgi adapter
  (`cgi2scgi.c`, and `cgi2scgi` for the Python fallback).
- `errors`: UsageError (exit status 2) and OperationError (exit status 1).

Test support lives in tests/harness, not in the package.
"""

__all__ = []
