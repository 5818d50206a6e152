"""The bench site: the small qpd site that `make bench` serves under qpd's
dispatcher and under gunicorn (see bench/README.md)."""
