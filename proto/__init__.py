"""The proto site: what `qpd new NAME` copies to make a new site.

A site is a Python package; `qpd` finds it as `qpd.sites.NAME`. Its slash
module (slash.qpy) defines SitePublisher, whose `configuration` sets the
site's addresses, and SiteDirectory, the root of its URL space. users.qpy
is the user admin page, counter.py a persistent class, and static/ holds
the files served at /static/.
"""
