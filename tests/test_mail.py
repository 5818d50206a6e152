"""qpd.lib.mail: addresses and headers, and sending to a real SMTP server
(aiosmtpd on 127.0.0.1)."""

import email
import logging
import smtplib
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller

from qpd.lib.mail import (
    Email, ascii_address, check_header_value, decode_header, encode_header,
    format_address, format_addresses, format_header, get_mail_settings,
    is_valid_address, normalize_address, parse_address, parse_addresses,
    require_address, sendmail)
from qpd.lib.mail import send as send_module


# -- addresses and headers ---------------------------------------------------

def test_is_valid_address():
    for good in ('ann@example.com', 'a.b+tag@mail.example.co.uk',
                 "o'neil@example.ie", 'x_y-z@sub-domain.example.org',
                 'jorg@bücher.de', '1@2.example'):
        assert is_valid_address(good), good
    for bad in ('', 'ann', 'ann@', '@example.com', 'ann@@example.com',
                'ann example@x.com', 'ann@example..com', '.ann@example.com',
                'ann.@example.com', 'a..b@example.com', 'ann@-x.com',
                'ann@x-.com', 'ann@1.2.3.4', 'ann@[1.2.3.4]',
                'ann@example.com\r\nBcc: x@y.z', 'ann\n@example.com',
                '"quoted"@example.com', 'a@' + 'b' * 64 + '.com',
                'x' * 65 + '@example.com', 'jörg@example.com', None, 3):
        assert not is_valid_address(bad), bad
    assert not is_valid_address('root@localhost')
    assert is_valid_address('root@localhost', allow_dotless=True)


def test_require_and_normalize_address():
    assert require_address('root@localhost') == 'root@localhost'
    with pytest.raises(ValueError):
        require_address('nobody')
    assert normalize_address('  Ann@Example.COM ') == 'Ann@example.com'
    assert normalize_address('x') == 'x'
    assert ascii_address('ann@bücher.de') == 'ann@xn--bcher-kva.de'
    assert ascii_address('ann@example.com') == 'ann@example.com'
    with pytest.raises(ValueError):
        ascii_address('jörg@example.com')


def test_parse_addresses():
    assert parse_addresses('Ann <ann@example.com>, bob@example.com') == [
        ('Ann', 'ann@example.com'), ('', 'bob@example.com')]
    assert parse_addresses('"Doe, J" <j@example.com>, junk') == [
        ('Doe, J', 'j@example.com')]
    assert parse_addresses('=?utf-8?q?J=C3=B6rg?= <j@example.com>') == [
        ('Jörg', 'j@example.com')]
    assert parse_addresses('') == []
    assert parse_address('Ann <ann@example.com>') == (
        'Ann', 'ann@example.com')
    with pytest.raises(ValueError):
        parse_address('a@example.com, b@example.com')
    with pytest.raises(ValueError):
        parse_address('nothing here')


def test_format_address():
    assert format_address('ann@example.com') == 'ann@example.com'
    assert format_address('ann@example.com', 'Ann') == 'Ann <ann@example.com>'
    assert format_address('j@example.com', 'Doe, J') == \
        '"Doe, J" <j@example.com>'
    encoded = format_address('j@example.com', 'Jörg, Müller')
    assert encoded.isascii()
    assert parse_address(encoded) == ('Jörg, Müller', 'j@example.com')
    with pytest.raises(ValueError):
        format_address('a@example.com', 'Ann\r\nBcc: x@example.com')
    assert format_addresses(['a@example.com', ('B', 'b@example.com')]) == \
        'a@example.com, B <b@example.com>'


def test_encode_and_decode_header():
    assert encode_header('plain') == 'plain'
    encoded = encode_header('Grüße aus Köln')
    assert encoded.isascii() and encoded.startswith('=?utf-8?')
    assert decode_header(encoded) == 'Grüße aus Köln'
    assert decode_header('plain') == 'plain'
    assert format_header('Subject', 'Grüße') == 'Subject: ' + \
        encode_header('Grüße')
    with pytest.raises(ValueError):
        encode_header('a\nb')
    with pytest.raises(ValueError):
        format_header('Bad Name', 'x')
    with pytest.raises(ValueError):
        check_header_value('a\rb')
    assert check_header_value('fine') == 'fine'


def test_email_refuses_bad_input():
    message = Email()
    with pytest.raises(ValueError):
        message.add_recipient('not an address')
    with pytest.raises(ValueError):
        message.set_subject('hello\r\nBcc: victim@example.com')
    with pytest.raises(ValueError):
        message.set_headers([('To', 'x@example.com')])
    with pytest.raises(ValueError):
        message.set_headers({'X-Evil': 'a\nb'})
    with pytest.raises(ValueError):
        message.set_from('x@example.com', 'X\nY')


def test_format_headers():
    message = Email()
    message.set_from('site@example.com', 'The Site')
    message.add_recipient('ann@example.com', 'Ann')
    message.add_cc_recipient('cc@example.com')
    message.add_bcc_recipient('hidden@example.com')
    message.set_subject('Hello')
    message.set_headers([('Reply-To', 'help@example.com')])
    text = message.format_headers()
    lines = text.split('\r\n')
    assert 'From: The Site <site@example.com>' in lines
    assert 'To: Ann <ann@example.com>' in lines
    assert 'Cc: cc@example.com' in lines
    assert 'Subject: Hello' in lines
    assert 'Reply-To: help@example.com' in lines
    assert any(line.startswith('Date: ') for line in lines)
    assert any(line.startswith('Message-ID: <') and
               line.endswith('@example.com>') for line in lines)
    assert 'hidden' not in text
    assert message.get_recipients() == [
        'ann@example.com', 'cc@example.com', 'hidden@example.com']


# -- sending ---------------------------------------------------------------

class Recorder:
    """An aiosmtpd handler that keeps every message; it refuses recipients
    whose address starts with 'refused'."""

    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.startswith('refused'):
            return '550 no such user'
        envelope.rcpt_tos.append(address)
        return '250 OK'

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return '250 Message accepted'

    def get_messages(self):
        return [email.message_from_bytes(envelope.content,
                                         policy=policy.default)
                for envelope in self.envelopes]


def get_free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    recorder = Recorder()
    for attempt in range(5):
        controller = Controller(recorder, hostname='127.0.0.1',
                                port=get_free_port())
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


@pytest.fixture
def no_publisher(monkeypatch):
    monkeypatch.setattr(send_module, 'get_current_publisher', lambda: None)


class FakePublisher:
    def __init__(self, smtp_server, enabled=True, debug_address=None):
        self.smtp_server = smtp_server
        self.enabled = enabled
        self.debug_address = debug_address

    def get_smtp_server(self):
        return self.smtp_server

    def is_email_enabled(self):
        return self.enabled

    def get_debug_address(self):
        return self.debug_address

    def get_webmaster_address(self):
        return 'webmaster@example.com'


def use_publisher(monkeypatch, publisher):
    monkeypatch.setattr(send_module, 'get_current_publisher',
                        lambda: publisher)


def make_email():
    message = Email()
    message.set_from('site@example.com', 'Thé Site')
    message.add_recipient('ann@example.com', 'Ann, Jörg')
    message.add_recipient('bob@example.com')
    message.add_recipient('erin@bücher.de')
    message.add_cc_recipient('carol@example.com', 'Carol')
    message.add_bcc_recipient('dave@example.com')
    message.set_subject('Grüße aus Köln')
    message.set_body('Bonjour, ça va?\nLine two.')
    message.set_headers({'Reply-To': 'help@example.com',
                         'X-Site': 'hello'})
    return message


def test_without_a_publisher_there_is_none():
    from qpd.web import common
    common.set_current(None, None)
    assert send_module.get_current_publisher() is None


def test_send_to_a_real_server(smtp, no_publisher):
    assert make_email().send(smtp_server=smtp.address) is True
    [envelope] = smtp.envelopes
    assert envelope.mail_from == 'site@example.com'
    assert envelope.rcpt_tos == ['ann@example.com', 'bob@example.com',
                                 'erin@xn--bcher-kva.de',
                                 'carol@example.com', 'dave@example.com']
    assert envelope.content.isascii()     # everything MIME-encoded
    [message] = smtp.get_messages()
    assert message['Subject'] == 'Grüße aus Köln'
    assert [(a.display_name, a.addr_spec) for a in message['To'].addresses] \
        == [('Ann, Jörg', 'ann@example.com'), ('', 'bob@example.com'),
            ('', 'erin@xn--bcher-kva.de')]
    assert message['Cc'] == 'Carol <carol@example.com>'
    assert message['From'].addresses[0].display_name == 'Thé Site'
    assert message['Reply-To'] == 'help@example.com'
    assert message['X-Site'] == 'hello'
    assert message['Bcc'] is None
    assert 'dave' not in envelope.content.decode('ascii')
    assert message['X-Original-Recipients'] is None
    assert message.get_content_type() == 'text/plain'
    assert message.get_content_charset() == 'utf-8'
    assert message['Content-Transfer-Encoding'] == 'quoted-printable'
    assert message.get_content().replace('\r\n', '\n') == \
        'Bonjour, ça va?\nLine two.\n'


def test_debug_address_redirects_everything(smtp, no_publisher):
    result = make_email().send(smtp_server=smtp.address,
                               debug_address='debug@example.com')
    assert result is True
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ['debug@example.com']
    [message] = smtp.get_messages()
    assert message['X-Original-Recipients'].strip() == (
        'ann@example.com, bob@example.com, erin@xn--bcher-kva.de, '
        'carol@example.com, dave@example.com')
    assert message['To'].addresses[0].addr_spec == 'ann@example.com'
    assert message['Subject'] == 'Grüße aus Köln'


def test_publisher_settings(smtp, monkeypatch):
    publisher = FakePublisher(smtp.address)
    use_publisher(monkeypatch, publisher)
    assert sendmail('Hi', 'Body', 'ann@example.com') is True
    [envelope] = smtp.envelopes
    assert envelope.mail_from == 'webmaster@example.com'
    assert envelope.rcpt_tos == ['ann@example.com']

    publisher.debug_address = 'debug@example.com'
    assert sendmail('Hi', 'Body', ['ann@example.com', ('Bob', 'b@x.org')],
                    from_address='me@example.com', cc='c@example.com',
                    bcc=['d@example.com']) is True
    envelope = smtp.envelopes[-1]
    assert envelope.rcpt_tos == ['debug@example.com']
    message = smtp.get_messages()[-1]
    assert message['From'] == 'me@example.com'
    assert message['To'] == 'ann@example.com, Bob <b@x.org>'
    assert message['X-Original-Recipients'].strip() == (
        'ann@example.com, b@x.org, c@example.com, d@example.com')

    # an explicit argument beats the publisher's setting
    assert sendmail('Hi', 'Body', 'ann@example.com',
                    debug_address='other@example.com') is True
    assert smtp.envelopes[-1].rcpt_tos == ['other@example.com']


def test_disabled_email_sends_nothing(smtp, monkeypatch, caplog):
    use_publisher(monkeypatch, FakePublisher(smtp.address, enabled=False))
    with caplog.at_level(logging.INFO, logger='qpd.mail'):
        assert sendmail('Hi', 'Body', 'ann@example.com') is False
    assert smtp.envelopes == []
    assert 'disabled' in caplog.text
    # explicitly enabled, it goes
    assert sendmail('Hi', 'Body', 'ann@example.com', enabled=True) is True
    assert len(smtp.envelopes) == 1


def test_publisher_may_hand_over_an_smtp_connection(smtp, monkeypatch):
    host, port = smtp.address.split(':')
    with smtplib.SMTP(host, int(port), timeout=10) as connection:
        use_publisher(monkeypatch, FakePublisher(connection))
        assert sendmail('One', 'Body', 'ann@example.com') is True
        assert sendmail('Two', 'Body', 'bob@example.com') is True
    assert [m['Subject'] for m in smtp.get_messages()] == ['One', 'Two']


def test_html_alternative(smtp, no_publisher):
    assert sendmail('Hi', 'plain text', 'ann@example.com',
                    from_address='me@example.com',
                    html_body='<p>html</p>', smtp_server=smtp.address)
    [message] = smtp.get_messages()
    assert message.get_content_type() == 'multipart/alternative'
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ['text/plain', 'text/html']


def test_refused_recipients(smtp, no_publisher, caplog):
    with caplog.at_level(logging.WARNING, logger='qpd.mail'):
        assert sendmail('Hi', 'Body', ['ann@example.com',
                                       'refused@example.com'],
                        from_address='me@example.com',
                        smtp_server=smtp.address) is True
    assert smtp.envelopes[-1].rcpt_tos == ['ann@example.com']
    assert 'refused@example.com' in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger='qpd.mail'):
        assert sendmail('Hi', 'Body', 'refused@example.com',
                        from_address='me@example.com',
                        smtp_server=smtp.address) is False
    assert len(smtp.envelopes) == 1
    assert len(caplog.records) == 1


def test_unreachable_server_logs_once_and_returns_false(no_publisher,
                                                         caplog):
    address = '127.0.0.1:%d' % get_free_port()    # nothing listens there
    with caplog.at_level(logging.DEBUG, logger='qpd.mail'):
        result = make_email().send(smtp_server=address, timeout=5)
    assert result is False
    [record] = caplog.records
    assert record.levelname == 'ERROR'
    assert address in record.getMessage()
    assert 'ann@example.com' in record.getMessage()


def test_no_server_configured(no_publisher, caplog):
    with caplog.at_level(logging.ERROR, logger='qpd.mail'):
        assert make_email().send() is False
    [record] = caplog.records
    assert 'no SMTP server' in record.getMessage()


def test_no_from_address(no_publisher):
    with pytest.raises(ValueError):
        sendmail('Hi', 'Body', 'ann@example.com', smtp_server='localhost')


def test_mail_settings():
    settings = get_mail_settings(publisher=FakePublisher(
        'mail.example.com', debug_address='d@example.com'))
    assert settings.get_smtp_server() == 'mail.example.com'
    assert settings.get_debug_address() == 'd@example.com'
    assert settings.is_enabled()
    assert settings.get_from_address() == 'webmaster@example.com'
    assert send_module.parse_smtp_server('mail.example.com') == (
        'mail.example.com', 25)
    assert send_module.parse_smtp_server('h:2525') == ('h', 2525)
    assert send_module.parse_smtp_server(('h', '26')) == ('h', 26)
    assert send_module.parse_smtp_server('[::1]:2525') == ('::1', 2525)
    assert send_module.parse_smtp_server('[::1]') == ('::1', 25)
