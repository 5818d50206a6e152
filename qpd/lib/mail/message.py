"""qpd.lib.mail.message: composing and sending email.

    email = Email()
    email.set_from('site@example.com', 'The Site')
    email.add_recipient('ann@example.com', 'Ann')
    email.set_subject('Grüße')
    email.set_body('Hello, Ann.')
    email.send()                  # -> bool; see qpd.lib.mail.send

or in one call: `sendmail('Grüße', 'Hello, Ann.', 'ann@example.com')`.

Non-ASCII subjects, names and bodies are encoded as MIME requires.  While a
debug address is in effect the message goes only there, with the
recipients it would have had listed in an `X-Original-Recipients` header.
"""

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from qpd.lib.mail.rfc822 import ascii_address, check_header_value
from qpd.lib.mail.send import get_mail_settings, transmit
from qpd.lib.tz import get_now

__all__ = ['Email', 'sendmail']

DEBUG_HEADER = 'X-Original-Recipients'

# Headers Email writes itself; set_headers() may not override them.
_OWN_HEADERS = {'from', 'to', 'cc', 'bcc', 'subject', 'mime-version',
                'content-type', 'content-transfer-encoding'}


def _as_address(mailbox):
    name, address = mailbox
    return Address(display_name=name, addr_spec=address)


class Email:
    """()
    A message under construction.  Addresses are checked as they are added
    (ValueError for a malformed one or a header with a line break), and an
    internationalized domain is turned into its ASCII form.
    """

    def __init__(self):
        self.subject = ''
        self.body = ''
        self.html_body = None
        self.from_mailbox = None
        self.to = []
        self.cc = []
        self.bcc = []
        self.headers = []

    def set_subject(self, subject):
        """(subject:str) -> None"""
        self.subject = check_header_value(subject)

    def get_subject(self):
        """() -> str"""
        return self.subject

    def set_body(self, body):
        """(body:str) -> None
        The plain-text body.
        """
        self.body = body

    def get_body(self):
        """() -> str"""
        return self.body

    def set_html_body(self, html):
        """(html:str|None) -> None
        An HTML alternative to the plain-text body (None for none).
        """
        self.html_body = None if html is None else str(html)

    def get_html_body(self):
        """() -> str | None"""
        return self.html_body

    def set_from(self, address, name=None):
        """(address:str, name:str=None) -> None"""
        address = ascii_address(address)
        if name:
            check_header_value(name)
        self.from_mailbox = (name or '', address)

    def get_from(self):
        """() -> (name:str, address:str) | None"""
        return self.from_mailbox

    def get_from_address(self):
        """() -> str | None"""
        return self.from_mailbox and self.from_mailbox[1]

    def _add(self, mailboxes, address, name):
        address = ascii_address(address)
        if name:
            check_header_value(name)
        mailboxes.append((name or '', address))

    def add_recipient(self, address, name=None):
        """(address:str, name:str=None) -> None
        Add a To: recipient.
        """
        self._add(self.to, address, name)

    def add_cc_recipient(self, address, name=None):
        """(address:str, name:str=None) -> None"""
        self._add(self.cc, address, name)

    def add_bcc_recipient(self, address, name=None):
        """(address:str, name:str=None) -> None
        A recipient that no header names.
        """
        self._add(self.bcc, address, name)

    def get_to(self):
        """() -> [(name, address)]"""
        return list(self.to)

    def get_cc(self):
        """() -> [(name, address)]"""
        return list(self.cc)

    def get_bcc(self):
        """() -> [(name, address)]"""
        return list(self.bcc)

    def get_recipients(self):
        """() -> [str]
        Every address the message is for (To, Cc and Bcc), once each.
        """
        result = []
        for name, address in self.to + self.cc + self.bcc:
            if address not in result:
                result.append(address)
        return result

    def set_headers(self, headers):
        """(headers:[(str, str)] | {str: str}) -> None
        Further headers (Reply-To, X-Mailer, ...), replacing any set
        before.  From, To, Cc, Bcc, Subject and the MIME headers belong to
        the other methods.
        """
        if hasattr(headers, 'items'):
            headers = headers.items()
        result = []
        for name, value in headers:
            if name.lower() in _OWN_HEADERS:
                raise ValueError('set %s with its own method' % name)
            check_header_value(name)
            check_header_value(str(value))
            result.append((name, str(value)))
        self.headers = result

    def get_headers(self):
        """() -> [(str, str)]"""
        return list(self.headers)

    def get_message(self, original_recipients=None):
        """(original_recipients:[str]=None) -> email.message.EmailMessage
        The message as it is sent.  original_recipients, when given, go in
        an X-Original-Recipients header (the debug-address redirect).
        """
        message = EmailMessage(policy=policy.SMTP)
        if self.from_mailbox:
            message['From'] = _as_address(self.from_mailbox)
        if self.to:
            message['To'] = [_as_address(mailbox) for mailbox in self.to]
        if self.cc:
            message['Cc'] = [_as_address(mailbox) for mailbox in self.cc]
        message['Subject'] = self.subject
        names = {name.lower() for name, value in self.headers}
        if 'date' not in names:
            message['Date'] = format_datetime(get_now())
        if 'message-id' not in names:
            domain = 'localhost'
            if self.from_mailbox:
                domain = self.from_mailbox[1].rpartition('@')[2]
            message['Message-ID'] = make_msgid(domain=domain)
        for name, value in self.headers:
            message[name] = value
        if original_recipients:
            message[DEBUG_HEADER] = ', '.join(original_recipients)
        body = self.body if self.body.endswith('\n') else self.body + '\n'
        message.set_content(
            body, cte=None if body.isascii() else 'quoted-printable')
        if self.html_body is not None:
            message.add_alternative(self.html_body, subtype='html')
        return message

    def format_headers(self):
        """() -> str
        The header block of the message as it would be sent now, lines
        separated by CRLF (without the blank line that ends it).
        """
        text = self.get_message().as_bytes().decode('ascii', 'replace')
        return text.partition('\r\n\r\n')[0]

    def as_bytes(self):
        """() -> bytes
        The whole message, as it would be sent now.
        """
        return self.get_message().as_bytes()

    def send(self, smtp_server=None, debug_address=None, enabled=None,
             timeout=None):
        """(smtp_server=None, debug_address:str=None, enabled:bool=None,
            timeout:float=None) -> bool
        Send the message; True when an SMTP server took it.  Settings not
        given here come from the current publisher (see qpd.lib.mail.send).
        Without a From address, the publisher's webmaster address is used.
        Never raises for a delivery problem: it logs and returns False.
        """
        settings = get_mail_settings(smtp_server, debug_address, enabled,
                                     timeout)
        if self.from_mailbox is None:
            if not settings.get_from_address():
                raise ValueError('Email.send(): no From address')
            self.set_from(settings.get_from_address())
        recipients = self.get_recipients()
        debug = settings.get_debug_address()
        if debug:
            data = self.get_message(original_recipients=recipients).as_bytes()
            recipients = [debug]
        else:
            data = self.as_bytes()
        return transmit(settings, self.get_from_address(), recipients, data)


def sendmail(subject, body, to, from_address=None, cc=None, bcc=None,
             headers=None, html_body=None, **send_options):
    """(subject:str, body:str, to:str|[str|(name, address)],
        from_address:str=None, cc=None, bcc=None, headers=None,
        html_body:str=None, **send_options) -> bool
    Compose an Email and send() it; send_options are send()'s keywords
    (smtp_server, debug_address, enabled, timeout).
    """
    email = Email()
    email.set_subject(subject)
    email.set_body(body)
    if html_body is not None:
        email.set_html_body(html_body)
    if from_address:
        email.set_from(from_address)
    for mailboxes, add in ((to, email.add_recipient),
                           (cc, email.add_cc_recipient),
                           (bcc, email.add_bcc_recipient)):
        if isinstance(mailboxes, str):
            mailboxes = [mailboxes]
        for mailbox in mailboxes or ():
            if isinstance(mailbox, str):
                add(mailbox)
            else:
                address, name = mailbox[1], mailbox[0]
                add(address, name)
    if headers:
        email.set_headers(headers)
    return email.send(**send_options)
