"""qpd.lib.mail.rfc822: email addresses and headers, on the stdlib `email`
package.

An *address* here is a bare addr-spec ('ann@example.com'); a *mailbox* is
the pair (name, address), formatted as 'Ann <ann@example.com>'.

QP's `RFC822Mailbox(addr_spec, real_name='')` is such a pair (a tuple
subclass, so `name, address = mailbox` works) with QP's methods;
`rfc822_mailbox(x)` and `mailboxes(xs)` turn what callers pass (a str, an
(address, name) tuple, a mailbox) into them.
"""

import re
from email.header import Header, decode_header as _decode_header, make_header
from email.utils import formataddr, getaddresses

__all__ = [
    'is_valid_address', 'require_address', 'normalize_address',
    'ascii_address',
    'parse_address', 'parse_addresses', 'format_address', 'format_addresses',
    'check_header_value', 'encode_header', 'decode_header', 'format_header',
    'RFC822Mailbox', 'rfc822_mailbox', 'mailboxes',
]

# The local part: a dot-atom of RFC 5322 atext.  Quoted local parts are
# refused (nobody types them into a form, and refusing them keeps quoting
# out of the picture), and so are non-ASCII ones (RFC 6531 allows them, but
# they need SMTPUTF8 all the way).  Domains may be internationalized: see
# ascii_address().
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]"
_LOCAL_PART = re.compile(r'%s+(?:\.%s+)*' % (_ATEXT, _ATEXT))
_LABEL = re.compile(r'(?!-)[A-Za-z0-9\-\u0080-\U0010FFFF]{1,63}(?<!-)')
_SPACE = re.compile(r'[\s\x00-\x1f\x7f]')


def is_valid_address(address, allow_dotless=False, allow_local=False):
    """(address:str, allow_dotless:bool=False, allow_local:bool=False) -> bool
    Is address a plausible addr-spec: a dot-atom local part, '@', and a
    domain of hostname labels?  A domain without a dot ('root@localhost')
    passes only with allow_dotless; a local part alone ('me', a user of
    the mail host, who QP let be addressed so) only with allow_local.
    """
    if not isinstance(address, str) or len(address) > 254:
        return False
    if _SPACE.search(address):
        return False
    local, at, domain = address.rpartition('@')
    if not at and allow_local:
        return len(domain) <= 64 and bool(_LOCAL_PART.fullmatch(domain))
    if not at or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        return False
    labels = domain.split('.')
    if len(labels) < 2 and not allow_dotless:
        return False
    for label in labels:
        if not _LABEL.fullmatch(label):
            return False
    return not labels[-1].isdigit()


def require_address(address, allow_dotless=True, allow_local=False):
    """(address:str, allow_dotless:bool=True, allow_local:bool=False) -> str
    address, or ValueError if is_valid_address() refuses it.
    """
    if not is_valid_address(address, allow_dotless=allow_dotless,
                            allow_local=allow_local):
        raise ValueError('not a valid email address: %r' % (address,))
    return address


def normalize_address(address):
    """(address:str) -> str
    address with surrounding space removed and the domain in lower case
    (the local part is left alone: it may be case sensitive).
    """
    local, at, domain = address.strip().rpartition('@')
    if not at:
        return address.strip()
    return '%s@%s' % (local, domain.lower())


def ascii_address(address):
    """(address:str) -> str
    address with an internationalized domain in its ASCII (IDNA) form, as
    SMTP needs it: 'ann@bücher.de' -> 'ann@xn--bcher-kva.de'.  ValueError
    if is_valid_address() refuses it or the domain has no IDNA form. A
    local part alone ('me') is left as it is: the mail host adds its domain.
    """
    require_address(address, allow_local=True)
    local, at, domain = address.rpartition('@')
    if not at or domain.isascii():
        return address
    try:
        return '%s@%s' % (local, domain.encode('idna').decode('ascii'))
    except UnicodeError:
        raise ValueError('not a valid email domain: %r' % (domain,)) from None


def parse_addresses(text):
    """(text:str) -> [(name:str, address:str)]
    The mailboxes in a header value such as 'Ann <ann@example.com>,
    bob@example.com'; encoded names (RFC 2047) are decoded.  Entries without
    a valid address are dropped.
    """
    if not text:
        return []
    result = []
    for name, address in getaddresses([text]):
        if is_valid_address(address, allow_dotless=True):
            result.append((decode_header(name) if name else '', address))
    return result


def parse_address(text):
    """(text:str) -> (name:str, address:str)
    The one mailbox in text; ValueError unless there is exactly one.
    """
    mailboxes = parse_addresses(text)
    if len(mailboxes) != 1:
        raise ValueError('expected one email address in %r' % (text,))
    return mailboxes[0]


def check_header_value(value):
    """(value:str) -> str
    value, or ValueError if it holds a line break or NUL (header injection).
    """
    if '\r' in value or '\n' in value or '\0' in value:
        raise ValueError('line break in header value %r' % (value,))
    return value


def format_address(address, name=None):
    """(address:str, name:str=None) -> str
    'Name <address>', with a non-ASCII name encoded (RFC 2047) and a name
    with specials quoted; just the address when there is no name.
    """
    check_header_value(address)
    if not name:
        return address
    check_header_value(name)
    return formataddr((name, address), charset='utf-8')


def format_addresses(mailboxes):
    """(mailboxes:[str | (name, address)]) -> str
    A comma-separated header value.
    """
    parts = []
    for mailbox in mailboxes:
        if isinstance(mailbox, str):
            parts.append(format_address(mailbox))
        else:
            name, address = mailbox
            parts.append(format_address(address, name))
    return ', '.join(parts)


def encode_header(value, charset='utf-8'):
    """(value:str, charset:str='utf-8') -> str
    value as it may appear in a header: unchanged when it is ASCII, else
    RFC 2047 encoded words.  A line break raises ValueError.
    """
    check_header_value(value)
    if value.isascii():
        return value
    return Header(value, charset).encode()


def decode_header(value):
    """(value:str) -> str
    The text of a header value, with RFC 2047 encoded words decoded.
    """
    return str(make_header(_decode_header(value)))


def format_header(name, value):
    """(name:str, value:str) -> str
    'Name: value' with the value encoded by encode_header().
    """
    if not re.fullmatch(r'[!-9;-~]+', name):
        raise ValueError('not a header name: %r' % (name,))
    return '%s: %s' % (name, encode_header(value))


class RFC822Mailbox(tuple):
    """(addr_spec:str, real_name:str='')
    An address with an optional display name: the pair (real_name,
    addr_spec). ValueError for a malformed address or a line break; a
    local part alone ('me', a user of the mail host) is an address, as in
    QP.
    """

    __slots__ = ()

    def __new__(cls, addr_spec, real_name=''):
        require_address(check_header_value(addr_spec), allow_local=True)
        if real_name and not isinstance(real_name, str):
            real_name = str(real_name)      # QP's: ('a@b', 1) is '1 <a@b>'
        if real_name:
            check_header_value(real_name)
        return tuple.__new__(cls, (real_name or '', addr_spec))

    def __getnewargs__(self):
        return (self[1], self[0])

    def get_addr_spec(self):
        """() -> str"""
        return self[1]

    def get_real_name(self):
        """() -> str"""
        return self[0]

    def format(self):
        """() -> str
        'Real Name <addr_spec>', the name quoted or encoded as RFC 822 and
        2047 require; just the address when there is no name.
        """
        return format_address(self[1], self[0])

    def __str__(self):
        return self.format()

    def __repr__(self):
        return 'RFC822Mailbox(%r, %r)' % (self[1], self[0])


def rfc822_mailbox(value):
    """(value:RFC822Mailbox | (addr_spec, real_name) | str | None)
        -> RFC822Mailbox | None
    value as an RFC822Mailbox: a str is parsed ('Ann <ann@example.com>'
    or a bare address), a tuple is (addr_spec, real_name) as in QP; None
    stays None. TypeError for anything else.
    """
    if value is None or isinstance(value, RFC822Mailbox):
        return value
    if isinstance(value, tuple):
        return RFC822Mailbox(*value)
    if isinstance(value, str):
        if '<' in value or ',' in value:
            name, address = parse_address(value)
            return RFC822Mailbox(address, name)
        return RFC822Mailbox(value.strip())
    raise TypeError('expected an RFC822Mailbox, an (address, name) tuple or '
                    'a str, got %r' % (value,))


def mailboxes(addresses):
    """(addresses:iterable | str | None) -> [RFC822Mailbox]
    Each of addresses through rfc822_mailbox(), skipping empty ones; a
    single str is one address.
    """
    if addresses is None:
        return []
    if isinstance(addresses, (str, RFC822Mailbox)):
        addresses = [addresses]
    return [rfc822_mailbox(address) for address in addresses if address]
