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

QP's Email API works as in QP: `set_to(addresses)`, `set_cc`,
`set_reply_to`, `set_from_address`, `set_smtp_sender`,
`set_smtp_recipients`, `set_extra_headers(['Name: value', ...])` and their
getters, which give RFC822Mailbox objects (pairs (name, address), so they
are qpd's mailboxes too). What is not set defaults as in QP: From, the
envelope sender and To to the publisher's webmaster address. A message to
anyone but the webmaster carries QP's bulk headers (`get_bulk_headers`),
and more than `max_header_recipients` To or Cc recipients are not listed
in the header. A message is sent once.
"""

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from qpd.lib.mail.rfc822 import (
    RFC822Mailbox, ascii_address, check_header_value, mailboxes,
    rfc822_mailbox)
from qpd.lib.mail.send import get_mail_settings, transmit
from qpd.lib.tz import get_now

__all__ = ['Email', 'sendmail']

DEBUG_HEADER = 'X-Original-Recipients'

# Headers Email writes itself; set_headers() may not override them.
_OWN_HEADERS = {'from', 'to', 'cc', 'bcc', 'subject', 'mime-version',
                'content-type', 'content-transfer-encoding'}


def _as_address(mailbox):
    name, address = mailbox
    if '@' not in address:          # a user of the mail host ('me', as QP)
        return Address(display_name=name, username=address, domain='')
    return Address(display_name=name, addr_spec=address)


def _checked(mailbox):
    """An RFC822Mailbox with its domain in ASCII (IDNA) form."""
    mailbox = rfc822_mailbox(mailbox)
    return RFC822Mailbox(ascii_address(mailbox.get_addr_spec()),
                         mailbox.get_real_name())


class Email:
    """()
    A message under construction.  Addresses are checked as they are added
    (ValueError for a malformed one or a header with a line break), and an
    internationalized domain is turned into its ASCII form.
    """

    max_header_recipients = 10   # more To (or Cc) addresses are not listed

    def __init__(self):
        self.subject = ''
        self.body = ''
        self.html_body = None
        self.from_mailbox = None
        self.to = []
        self.cc = []
        self.bcc = []
        self.reply_to = []
        self.smtp_sender = None
        self.smtp_recipients = None
        self.headers = []
        self.sent = False

    # What the publisher decides (QP asked it through the Email) ---------

    def get_smtp_server(self):
        """() -> the publisher's SMTP server (see qpd.lib.mail.send)"""
        return get_mail_settings().get_smtp_server()

    def is_email_enabled(self):
        """() -> bool: does the publisher send mail?"""
        return get_mail_settings().is_enabled()

    def get_webmaster_address(self):
        """() -> RFC822Mailbox | None"""
        return rfc822_mailbox(get_mail_settings().get_from_address())

    def get_debug_address(self):
        """() -> RFC822Mailbox | None"""
        return rfc822_mailbox(get_mail_settings().get_debug_address())

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
        self.from_mailbox = _checked(RFC822Mailbox(address, name or ''))

    def set_from_address(self, address):
        """(address:str|(address, name)|RFC822Mailbox) -> None"""
        self.from_mailbox = _checked(address)

    def get_from(self):
        """() -> RFC822Mailbox (a (name, address) pair) | None
        The From mailbox as set.
        """
        return self.from_mailbox

    def get_from_address(self):
        """() -> RFC822Mailbox | None
        The From mailbox: as set, else the webmaster's.
        """
        return self.from_mailbox or self.get_webmaster_address()

    def set_smtp_sender(self, address):
        """(address:str|(address, name)|RFC822Mailbox|None) -> None
        The SMTP envelope sender (where bounces go).
        """
        self.smtp_sender = None if address is None else _checked(address)

    def get_smtp_sender(self):
        """() -> RFC822Mailbox | None: as set, else the From mailbox"""
        return self.smtp_sender or self.get_from_address()

    def set_reply_to(self, addresses):
        """(addresses:[str|(address, name)|RFC822Mailbox]) -> None"""
        self.reply_to = [_checked(mailbox) for mailbox in mailboxes(addresses)]

    def get_reply_to(self):
        """() -> [RFC822Mailbox]"""
        return list(self.reply_to)

    def set_to(self, addresses):
        """(addresses:[str|(address, name)|RFC822Mailbox]) -> None
        Replace the To recipients.
        """
        self.to = [_checked(mailbox) for mailbox in mailboxes(addresses)]

    def set_cc(self, addresses):
        """(addresses:[str|(address, name)|RFC822Mailbox]) -> None
        Replace the Cc recipients.
        """
        self.cc = [_checked(mailbox) for mailbox in mailboxes(addresses)]

    def set_smtp_recipients(self, addresses):
        """(addresses:[str|(address, name)|RFC822Mailbox]) -> None
        The envelope recipients, instead of To + Cc + Bcc.
        """
        self.smtp_recipients = [_checked(mailbox)
                                for mailbox in mailboxes(addresses)]

    def get_smtp_recipients(self):
        """() -> [RFC822Mailbox]
        The envelope recipients: as set, else To + Cc + Bcc (each address
        once), else the webmaster.
        """
        if self.smtp_recipients is not None:
            return list(self.smtp_recipients)
        result = []
        seen = set()
        for mailbox in self.to + self.cc + self.bcc:
            if mailbox[1] not in seen:
                seen.add(mailbox[1])
                result.append(mailbox)
        if not result:
            webmaster = self.get_webmaster_address()
            if webmaster:
                result.append(webmaster)
        return result

    def _add(self, mailboxes, address, name):
        mailboxes.append(_checked(RFC822Mailbox(address, name or '')))

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
        """() -> [RFC822Mailbox] (pairs (name, address)); the webmaster
        when there are no recipients at all"""
        if not (self.to or self.cc or self.bcc or self.smtp_recipients):
            webmaster = self.get_webmaster_address()
            return [webmaster] if webmaster else []
        return list(self.to)

    def get_cc(self):
        """() -> [RFC822Mailbox]"""
        return list(self.cc)

    def get_bcc(self):
        """() -> [RFC822Mailbox]"""
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

    def set_extra_headers(self, headers):
        """(headers:[str]) -> None
        QP's form of set_headers: header lines 'Name: value'.
        """
        pairs = []
        for line in headers or ():
            name, colon, value = str(line).partition(':')
            if not colon or not name.strip():
                raise ValueError('not a header line: %r' % (line,))
            pairs.append((name.strip(), value.strip()))
        self.set_headers(pairs)

    def get_extra_headers(self):
        """() -> [str]: the further headers as 'Name: value' lines"""
        return ['%s: %s' % pair for pair in self.headers]

    def get_bulk_headers(self):
        """() -> [str]
        QP's marks of automatic mail, 'Precedence: junk' and 'X-No-Archive:
        yes', unless the message is only for the webmaster.
        """
        webmaster = self.get_webmaster_address()
        recipients = [mailbox[1] for mailbox in self.get_smtp_recipients()]
        if webmaster and recipients == [webmaster[1]]:
            return []
        return ['Precedence: junk', 'X-No-Archive: yes']

    def get_message(self, original_recipients=None):
        """(original_recipients:[str]=None) -> email.message.EmailMessage
        The message as it is sent.  original_recipients, when given, go in
        an X-Original-Recipients header (the debug-address redirect).
        """
        message = EmailMessage(policy=policy.SMTP)
        from_mailbox = self.get_from_address()
        if from_mailbox:
            message['From'] = _as_address(from_mailbox)
        for header, recipients in (('To', self.get_to()), ('Cc', self.cc)):
            if len(recipients) > self.max_header_recipients:
                message[header] = '"%d recipients suppressed":;' % len(recipients)
            elif recipients:
                message[header] = [_as_address(mailbox) for mailbox in recipients]
        message['Subject'] = self.subject
        names = {name.lower() for name, value in self.headers}
        if 'date' not in names:
            message['Date'] = format_datetime(get_now())
        if 'message-id' not in names:
            domain = 'localhost'
            if from_mailbox:
                domain = from_mailbox[1].rpartition('@')[2]
            message['Message-ID'] = make_msgid(domain=domain)
        if self.reply_to and 'reply-to' not in names:
            message['Reply-To'] = [_as_address(mailbox) for mailbox in self.reply_to]
        for line in self.get_bulk_headers():
            name, _, value = line.partition(': ')
            if name.lower() not in names:
                message[name] = value
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
        Never raises for a delivery problem: it logs and returns False. A
        message is sent once: a second send() is a RuntimeError.
        """
        if self.sent:
            raise RuntimeError('Email.send(): this message was sent already')
        settings = get_mail_settings(smtp_server, debug_address, enabled,
                                     timeout)
        if self.from_mailbox is None:
            if not settings.get_from_address():
                raise ValueError('Email.send(): no From address')
            self.set_from_address(settings.get_from_address())
        recipients = [mailbox[1] for mailbox in self.get_smtp_recipients()]
        debug = settings.get_debug_address()
        if debug:
            data = self.get_message(original_recipients=recipients).as_bytes()
            recipients = [debug]
        else:
            data = self.as_bytes()
        self.sent = True
        return transmit(settings, self.get_smtp_sender()[1], recipients, data)


def sendmail(subject, body=None, to=None, from_address=None, cc=None,
             bcc=None, headers=None, html_body=None, msg_body=None,
             to_addrs=None, from_addr=None, reply_to=None, smtp_sender=None,
             cc_addrs=None, extra_headers=None, smtp_recipients=None,
             **send_options):
    """(subject:str, body:str, to:str|[str|(name, address)],
        from_address:str=None, cc=None, bcc=None, headers=None,
        html_body:str=None, **send_options) -> bool
    Compose an Email and send() it; send_options are send()'s keywords
    (smtp_server, debug_address, enabled, timeout). QP's keywords work
    too: msg_body, to_addrs, from_addr, reply_to, smtp_sender, cc_addrs,
    extra_headers (header lines), smtp_recipients.
    """
    body = msg_body if body is None else body
    to = to_addrs if to is None else to
    from_address = from_addr if from_address is None else from_address
    cc = cc_addrs if cc is None else cc
    email = Email()
    email.set_subject(subject)
    email.set_body(body)
    if html_body is not None:
        email.set_html_body(html_body)
    if from_address:
        email.set_from_address(from_address)
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
    if extra_headers:
        email.set_headers(email.get_headers() + [
            (line.partition(':')[0].strip(), line.partition(':')[2].strip())
            for line in extra_headers])
    if reply_to:
        email.set_reply_to(reply_to)
    if smtp_sender:
        email.set_smtp_sender(smtp_sender)
    if smtp_recipients:
        email.set_smtp_recipients(smtp_recipients)
    return email.send(**send_options)
