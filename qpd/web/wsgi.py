"""qpd.web.wsgi: serve a qpd site with any WSGI server.

    application = make_app(site)                 # or make_app(publisher)
    gunicorn 'qpd.web.wsgi:make_site_app("hello")'

A publisher holds one Durus connection and is single-threaded: serve with
one thread per process (gunicorn's default sync workers). Given a Site,
the app makes its publisher (and so its connection) on the first request
in each process, so it is safe to create before the server forks.
"""

import os

from qpd.site import Site
from qpd.web.hit import Hit
from qpd.web.request import HTTPRequest

__all__ = ['make_app', 'make_site_app']


def make_app(site_or_publisher):
    """(site_or_publisher:Site | Publisher) -> WSGI application"""
    if hasattr(site_or_publisher, 'process_hit'):
        publisher = site_or_publisher

        def get_publisher():
            return publisher
    else:
        site = site_or_publisher
        state = {'pid': None, 'publisher': None}

        def get_publisher():
            if state['pid'] != os.getpid():
                state['publisher'] = site.make_publisher()
                state['pid'] = os.getpid()
            return state['publisher']

    def application(environ, start_response):
        request = HTTPRequest(environ['wsgi.input'], environ)
        hit = Hit(request)
        get_publisher().process_hit(hit)
        response = hit.get_response()
        start_response('%s %s' % (response.get_status_code(),
                                  response.get_reason_phrase()),
                       response.get_header_list())
        if response.is_streaming():
            return _Body(response)
        return list(response.iter_body())

    application.get_publisher = get_publisher
    return application


class _Body:
    """The WSGI iterable of a streamed body: the server's close() closes
    the response (its file), whether or not it was sent to the end."""

    def __init__(self, response):
        self.response = response
        self.chunks = response.iter_body()

    def __iter__(self):
        return self.chunks

    def close(self):
        self.response.close()


def make_site_app(name, home=None):
    """(name:str, home:str=None) -> WSGI application for the site `name`
    in home (else $QPD_HOME, else the current directory)."""
    return make_app(Site(name, home=home))
