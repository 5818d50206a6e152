"""The bench site as a WSGI application for gunicorn, granian and uWSGI.

    QPD_BENCH_HOME=HOME gunicorn -c bench/gunicorn_conf.py \
        --chdir bench gunicorn_app:application

The site is `qpd.web.wsgi.make_app(Site('bench', HOME))`: the same site code
and the same Durus StorageServer (started with `qpd --home HOME durus bench`)
as under qpd's own workers. The application, and so its Durus connection,
is made in each worker after the fork (gunicorn_conf.post_worker_init, or on
the first request), never in the master.
"""

import os

__all__ = ['application', 'get_app']

_app = None


def get_app():
    """() -> the site's WSGI application, made on first use in this process."""
    global _app
    if _app is None:
        from qpd.site import Site
        from qpd.web.wsgi import make_app
        site = Site(os.environ.get('QPD_BENCH_SITE', 'bench'),
                    home=os.environ['QPD_BENCH_HOME'])
        _app = make_app(site)
    return _app


def application(environ, start_response):
    """The WSGI entry point (only used until post_worker_init swaps in the
    site's application itself)."""
    return get_app()(environ, start_response)
