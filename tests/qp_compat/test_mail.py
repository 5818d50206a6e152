"""QP compatibility: qp.mail.send and qp.mail.rfc822_mailbox ->
qpd.lib.mail, one test per entry of docs/qp_api.md. Messages go to a real
SMTP server (aiosmtpd on 127.0.0.1); the settings come from a publisher
with QP's hooks, as a QP SitePublisher provides them."""

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from qpd.lib.mail import RFC822Mailbox, Email, mailboxes, rfc822_mailbox, sendmail
from qpd.lib.mail import send as send_module

WEBMASTER = 'webmaster@example.com'


class Recorder:
    """An aiosmtpd handler that keeps every envelope."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return '250 Message accepted'

    def get_messages(self):
        return [email.message_from_bytes(envelope.content, policy=policy.default)
                for envelope in self.envelopes]


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    recorder = Recorder()
    for attempt in range(5):
        controller = Controller(recorder, hostname='127.0.0.1', port=_free_port())
        try:
            controller.start()
        except Exception:
            if attempt == 4:
                raise
            continue
        break
    recorder.address = '127.0.0.1:%d' % controller.port
    yield recorder
    controller.stop()


class QPStylePublisher:
    """The mail hooks of a QP SitePublisher."""

    def __init__(self, smtp_server, enabled=True, debug_address=None):
        self.smtp_server = smtp_server
        self.enabled = enabled
        self.debug_address = debug_address

    def get_smtp_server(self):
        return self.smtp_server

    def is_email_enabled(self):
        return self.enabled

    def get_webmaster_address(self):
        return WEBMASTER

    def get_debug_address(self):
        return self.debug_address


@pytest.fixture
def publisher(smtp, monkeypatch):
    publisher = QPStylePublisher(smtp.address)
    monkeypatch.setattr(send_module, '_settings_source', lambda: publisher)
    return publisher


def test_email(smtp, publisher):
    message = Email()
    assert message.get_from_address() == RFC822Mailbox(WEBMASTER)
    assert message.get_to() == [RFC822Mailbox(WEBMASTER)]
    assert message.get_smtp_sender() == RFC822Mailbox(WEBMASTER)
    message.set_subject('hello')
    assert message.send() is True
    [envelope] = smtp.envelopes
    assert envelope.mail_from == WEBMASTER and envelope.rcpt_tos == [WEBMASTER]


def test_email_max_header_recipients(smtp, publisher):
    assert Email.max_header_recipients == 10
    message = Email()
    message.set_to(['user%d@example.com' % n for n in range(11)])
    message.set_subject('many')
    message.send()
    [envelope] = smtp.envelopes
    assert len(envelope.rcpt_tos) == 11
    header = smtp.get_messages()[0]['To']
    assert 'user1@' not in header and '11 recipients' in header
    few = Email()
    few.set_to(['user%d@example.com' % n for n in range(10)])
    assert 'user9@example.com' in few.format_headers()


def test_email_subject():
    message = Email()
    message.set_subject('Grüße')
    assert message.get_subject() == 'Grüße'
    with pytest.raises(ValueError):
        message.set_subject('two\nlines')


def test_email_body():
    message = Email()
    message.set_body('Hello.\n')
    assert message.get_body() == 'Hello.\n'


def test_email_from_address(publisher):
    message = Email()
    message.set_from_address('Ann <ann@example.com>')
    mailbox = message.get_from_address()
    assert mailbox.get_addr_spec() == 'ann@example.com'
    assert mailbox.get_real_name() == 'Ann'
    message.set_from_address(('bob@example.com', 'Bob'))
    assert message.get_from_address() == RFC822Mailbox('bob@example.com', 'Bob')


def test_email_reply_to(publisher):
    message = Email()
    assert message.get_reply_to() == []
    message.set_reply_to(['help@example.com', ('desk@example.com', 'Desk')])
    assert [m.get_addr_spec() for m in message.get_reply_to()] == [
        'help@example.com', 'desk@example.com']
    assert 'Reply-To: help@example.com, Desk <desk@example.com>' in \
        message.format_headers()


def test_email_smtp_sender(smtp, publisher):
    message = Email()
    message.set_smtp_sender('bounces@example.com')
    assert message.get_smtp_sender() == RFC822Mailbox('bounces@example.com')
    message.set_to(['ann@example.com'])
    message.send()
    assert smtp.envelopes[0].mail_from == 'bounces@example.com'
    assert smtp.get_messages()[0]['From'] == WEBMASTER


def test_email_to(publisher):
    message = Email()
    message.set_to(['ann@example.com', '', ('bob@example.com', 'Bob')])
    assert message.get_to() == [RFC822Mailbox('ann@example.com'),
                                RFC822Mailbox('bob@example.com', 'Bob')]
    name, address = message.get_to()[1]           # qpd's (name, address) pair
    assert (name, address) == ('Bob', 'bob@example.com')
    message.set_to(['carol@example.com'])         # replaces
    assert len(message.get_to()) == 1


def test_email_cc(publisher):
    message = Email()
    message.set_cc(['Ann <ann@example.com>'])
    assert message.get_cc() == [RFC822Mailbox('ann@example.com', 'Ann')]
    assert 'Cc: Ann <ann@example.com>' in message.format_headers()


def test_email_extra_headers(publisher):
    message = Email()
    message.set_extra_headers(['X-Site: hello', 'X-Other: two'])
    assert message.get_extra_headers() == ['X-Site: hello', 'X-Other: two']
    assert 'X-Site: hello' in message.format_headers()
    with pytest.raises(ValueError):
        message.set_extra_headers(['no colon here'])


def test_email_smtp_recipients(smtp, publisher):
    message = Email()
    message.set_to(['ann@example.com'])
    message.set_cc(['bob@example.com'])
    assert [m.get_addr_spec() for m in message.get_smtp_recipients()] == [
        'ann@example.com', 'bob@example.com']
    message.set_smtp_recipients(['list@example.com'])
    assert message.get_smtp_recipients() == [RFC822Mailbox('list@example.com')]
    message.send()
    assert smtp.envelopes[0].rcpt_tos == ['list@example.com']


def test_email_bulk_headers(publisher):
    message = Email()
    assert message.get_bulk_headers() == []      # just for the webmaster
    message.set_to(['ann@example.com'])
    assert message.get_bulk_headers() == ['Precedence: junk', 'X-No-Archive: yes']
    assert 'Precedence: junk' in message.format_headers()


def test_email_format_headers(publisher):
    message = Email()
    message.set_to(['ann@example.com'])
    message.set_subject('Hi')
    headers = message.format_headers()
    assert 'Subject: Hi' in headers and 'To: ann@example.com' in headers
    assert '\r\n\r\n' not in headers
    # qpd's (documented): the email package's block, CRLF line ends, with
    # Date, Message-ID and MIME headers; a long list is suppressed
    lines = headers.split('\r\n')
    names = [line.partition(':')[0] for line in lines]
    assert {'Date', 'Message-ID', 'MIME-Version'} <= set(names)
    many = Email()
    many.set_to(['user%d@example.com' % n for n in range(30)])
    assert 'To: "30 recipients suppressed":;' in many.format_headers()


def test_email_publisher_settings(smtp, publisher):
    message = Email()
    assert message.get_smtp_server() == smtp.address
    assert message.is_email_enabled() is True
    assert message.get_webmaster_address() == RFC822Mailbox(WEBMASTER)
    assert message.get_debug_address() is None
    publisher.debug_address = 'debug@example.com'
    assert message.get_debug_address() == RFC822Mailbox('debug@example.com')


def test_mailboxes():
    result = mailboxes(['ann@example.com', None, '', ('bob@example.com', 'Bob'),
                        RFC822Mailbox('carol@example.com')])
    assert result == [RFC822Mailbox('ann@example.com'),
                      RFC822Mailbox('bob@example.com', 'Bob'),
                      RFC822Mailbox('carol@example.com')]


def test_email_send(smtp, publisher):
    message = Email()
    message.set_to(['ann@example.com'])
    message.set_subject('once')
    assert message.send() is True
    with pytest.raises(RuntimeError):
        message.send()                            # QP: sent once
    publisher.debug_address = 'debug@example.com'
    redirected = Email()
    redirected.set_to(['ann@example.com'])
    assert redirected.send() is True
    assert smtp.envelopes[-1].rcpt_tos == ['debug@example.com']
    assert 'ann@example.com' in smtp.get_messages()[-1]['X-Original-Recipients']
    publisher.enabled = False
    disabled = Email()
    disabled.set_to(['ann@example.com'])
    assert disabled.send() is False
    assert len(smtp.envelopes) == 2


def test_sendmail(smtp, publisher):
    assert sendmail('Subject', 'Body text', ['ann@example.com'],
                    from_addr='site@example.com', reply_to=['help@example.com'],
                    smtp_sender='bounce@example.com',
                    cc_addrs=['bob@example.com'], extra_headers=['X-Tag: 1'],
                    smtp_recipients=['ann@example.com', 'bob@example.com'])
    [envelope] = smtp.envelopes
    assert envelope.mail_from == 'bounce@example.com'
    assert envelope.rcpt_tos == ['ann@example.com', 'bob@example.com']
    [message] = smtp.get_messages()
    assert message['From'] == 'site@example.com'
    assert message['Reply-To'] == 'help@example.com'
    assert message['Cc'] == 'bob@example.com' and message['X-Tag'] == '1'
    assert message.get_content().strip() == 'Body text'
    assert sendmail(subject='k', msg_body='b', to_addrs=['c@example.com'])


def test_rfc822_mailbox_class():
    mailbox = RFC822Mailbox('ann@example.com', 'Ann, the first')
    assert mailbox.get_addr_spec() == 'ann@example.com'
    assert mailbox.get_real_name() == 'Ann, the first'
    assert mailbox.format() == '"Ann, the first" <ann@example.com>'
    assert RFC822Mailbox('ann@example.com').format() == 'ann@example.com'
    assert RFC822Mailbox('jorg@example.com', 'Jörg').format().startswith('=?utf-8?')
    assert mailbox == RFC822Mailbox('ann@example.com', 'Ann, the first')
    assert mailbox != RFC822Mailbox('ann@example.com')
    with pytest.raises(ValueError):
        RFC822Mailbox('not an address')


def test_rfc822_mailbox():
    mailbox = RFC822Mailbox('ann@example.com')
    assert rfc822_mailbox(mailbox) is mailbox
    assert rfc822_mailbox(None) is None
    assert rfc822_mailbox(('bob@example.com', 'Bob')) == RFC822Mailbox(
        'bob@example.com', 'Bob')
    assert rfc822_mailbox('Carol <carol@example.com>') == RFC822Mailbox(
        'carol@example.com', 'Carol')
    assert rfc822_mailbox('dave@example.com') == RFC822Mailbox('dave@example.com')
    with pytest.raises(TypeError):
        rfc822_mailbox(42)
    # QP's: a user of the mail host, named alone, is an address
    me = rfc822_mailbox('me')
    assert me.format() == 'me' and rfc822_mailbox(me) is me
    assert rfc822_mailbox(('me', 'Me')).format() == 'Me <me>'
    assert rfc822_mailbox(('a@b', 1)).format() == '1 <a@b>'  # QP's str()
    for bad in ('me you', 'me<x>', 'a\r\nBcc: x@example.com', ''):
        with pytest.raises(ValueError):
            rfc822_mailbox(bad)
