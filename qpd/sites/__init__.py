"""qpd.sites: the site packages of the current qpd home.

Site adds `<home>/sites` to this package's __path__, so that the site named
hello imports as `qpd.sites.hello` (as QP's did as `qp.sites.hello`).
"""
