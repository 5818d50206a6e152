"""qpd.lib.mail: email addresses, headers, and sending.

- `qpd.lib.mail.rfc822`: parse, validate, format and encode addresses and
  headers;
- `qpd.lib.mail.message`: `Email` and `sendmail()`;
- `qpd.lib.mail.send`: how a message reaches the SMTP server, and how the
  publisher's `get_smtp_server()`, `is_email_enabled()` and
  `get_debug_address()` decide it.
"""

from qpd.lib.mail.message import Email, sendmail
from qpd.lib.mail.rfc822 import (
    RFC822Mailbox, ascii_address, check_header_value, decode_header,
    encode_header, format_address, format_addresses, format_header,
    is_valid_address, mailboxes, normalize_address, parse_address,
    parse_addresses, require_address, rfc822_mailbox)
from qpd.lib.mail.send import get_mail_settings

__all__ = [
    'Email', 'sendmail', 'get_mail_settings',
    'RFC822Mailbox', 'rfc822_mailbox', 'mailboxes',
    'is_valid_address', 'require_address', 'normalize_address',
    'ascii_address',
    'parse_address', 'parse_addresses', 'format_address', 'format_addresses',
    'check_header_value', 'encode_header', 'decode_header', 'format_header',
]
