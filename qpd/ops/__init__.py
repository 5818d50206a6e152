"""qpd.ops: what a user touches, behind the `qpd` command.

`subcommands` is the table of every `qpd` subcommand (name, help,
arguments, function); qpd.cli builds its parser from it. `commands` holds
the function of each subcommand that operates sites, `processes` those
that run a site's server processes (each takes the argparse namespace and
returns an exit status); the other modules each do one job:

- `lifecycle`: a site's processes started in order, waited for until the
  site answers, restarted one worker at a time, stopped dispatcher first.
- `supervisor`: supervisord's configuration files and control over its
  unix socket (XML-RPC).
- `newsite`: `qpd new`, a copy of the proto site with free ports.
- `probe`: asking a site for its home page (HTTP or SCGI).
- `logs`: the tail of a log, and following it; `logrotate`: the snippet
  `qpd build --logrotate` prints.
- `progress`: one line of progress for long work; `say`, a command's line.
- `shell`: `qpd shell`, a Python session on a site's live database.
- `pack`: packing a live database through its StorageServer.
- `backup`: `qpd backup` and `qpd check`, on the live file.
- `certs`: `qpd certs`, the site's CA and host certificates.
- `deploy`: `qpd deploy` and `qpd rollback`, releases switched by symlink.
- `port`: `qpd port`, a QP site (Python 2, QP's modules) made a qpd site.
- `build`: front-end configuration and the cgi2scgi adapter
  (`cgi2scgi.c`, and `cgi2scgi` for the Python fallback).
- `errors`: UsageError (exit status 2) and OperationError (exit status 1).

Test support lives in tests/harness, not in the package.
"""

__all__ = []
