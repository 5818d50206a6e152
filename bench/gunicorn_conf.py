"""gunicorn settings for the bench (see gunicorn_app.py)."""

worker_class = 'sync'
loglevel = 'warning'


def post_worker_init(worker):
    """Make the site's application (and its Durus connection) in the worker,
    after the fork, and serve it without the lazy wrapper."""
    import gunicorn_app
    worker.wsgi = gunicorn_app.get_app()
