"""qpd.web: everything HTTP: requests, responses, traversal, forms, and the
dispatcher and worker processes that serve them."""
