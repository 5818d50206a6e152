"""qpd.server: the process server that runs a site's worker pool.

The dispatcher (qpd.server.dispatcher) owns the listening sockets and hands
accepted connections to single-threaded workers (qpd.server.worker) over a
unix socket; qpd.server.fdpass owns every message between them,
qpd.server.protocol parses HTTP/SCGI request heads and writes response
heads, qpd.server.control asks a dispatcher for its stats, and
qpd.server.serve runs the three roles in the foreground. Nothing in
qpd.web imports this package: the framework knows nothing of the server
that runs it.
"""
