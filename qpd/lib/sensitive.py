"""qpd.lib.sensitive: the one rule for names whose values are credentials.

Three places show values that may be credentials: the technical 500 page
(qpd.web.debug: fields, locals, headers), the error report a production
site logs and mails (Publisher.format_exception_report: the request's
environ), and the database browser (qpd.web.durus_directory: attributes
and keys). Each used to keep its own list, and each list missed what
another caught: a custom `X-Api-Key` header was shown in clear on the
debug page and in the log, and DurusDirectory showed `smtp_api_key`.
Now each asks `is_sensitive(name)`, for a field, a local, an attribute, a
key, or a header (an environ key `HTTP_X_API_KEY` or a name `X-Api-Key`).

A name is sensitive when, case aside, it contains a password word
(password, passwd, passphrase, or `pass` or `pwd` as a word of its
own), secret, token, credential, authorization (`auth` as a word), an
API, access or private key, a session id or key, a signature, a cookie,
a digest or an HA1. Words are parts between `_`, `-` or the name's ends, so `compass`
and `sha1` are not sensitive but `x_pass` and `ha1` are. Masking more
than needed costs a developer a look elsewhere; masking less hands out a
credential to whoever reads a pasted page, so when in doubt the rule
masks.
"""

import re

__all__ = ['is_sensitive']

_SENSITIVE = re.compile(
    r'pass(?:word|wd|phrase)|secret|token|credential|authori[sz]ation'
    r'|(?:api|access|private|secret|signing)[_-]?key|session[_-]?(?:id|key)'
    r'|signature|cookie|digest'
    r'|(?:^|[_-])(?:pass|auth|ha1|pwd)(?:$|[_-])', re.I)


def is_sensitive(name):
    """(name) -> bool
    Does the name (a field, variable, attribute or key name, a header
    name or its environ key) look like it holds a credential? See the
    module's docstring.
    """
    return bool(_SENSITIVE.search(str(name)))
