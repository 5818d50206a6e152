"""qpd.ops: what a user touches, behind the `qpd` command.

`commands` holds one function per subcommand (each takes the argparse
namespace and returns an exit status); the other modules each do one job:

- `supervisor`: supervisord's configuration files and control over its
  unix socket.
- `newsite`: `qpd new`, a copy of the proto site with free ports.
- `readiness`: waiting for a site to answer, and reading logs.
- `shell`: `qpd shell`, a Python session on a site's live database.
- `pack`: packing a live database through its StorageServer.
- `build`: front-end configuration and the cgi2scgi adapter.
"""

__all__ = []
