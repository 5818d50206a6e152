"""qpd.ops.processes: the subcommands that are a site's server processes.

`qpd durus NAME`, `qpd dispatcher NAME` and `qpd worker NAME --index N`
are what supervisord runs (qpd.ops.supervisor writes their command
lines), and `qpd serve NAME` runs them all in the foreground. Each
imports its process's module only when it runs, and nothing of
supervisord's client: a worker starts as quickly as it can.
"""

from qpd.site import Site

__all__ = ['durus', 'dispatcher', 'worker', 'serve']


def _site(args):
    """(args) -> Site: the site named on the command line."""
    return Site(args.name, home=args.home)


def durus(args):
    """qpd durus NAME: the site's Durus StorageServer."""
    from qpd.storage.server import main
    return main(_site(args))


def dispatcher(args):
    """qpd dispatcher NAME: the site's dispatcher."""
    from qpd.server.dispatcher import main
    return main(_site(args))


def worker(args):
    """qpd worker NAME [--index N] [--debug]: one worker of the site;
    --debug (what `qpd serve --debug` runs) answers 500 with the technical
    page (qpd.web.debug), whatever the site's configuration says."""
    from qpd.server.worker import main
    site = _site(args)
    if args.debug:
        site.override(display_exceptions=True)
    return main(site, index=args.index)


def serve(args):
    """qpd serve NAME [--workers N] [--debug] [--reload]: the site's
    processes in the foreground, without supervisord."""
    from qpd.server.serve import main
    return main(_site(args), workers=args.workers, debug=args.debug,
                reload=args.reload)
