"""qpd.lib.mail.send: handing a finished message to an SMTP server.

The settings come from the arguments first, then from the publisher that is
processing the current hit, as in QP. This module sits below the framework
and does not import it: qpd.web.common registers `get_publisher` here
(set_settings_source), and the publisher is asked for

- `publisher.get_smtp_server()`: where to send: 'host', 'host:port',
  (host, port), or an object with an smtplib-style `sendmail()` method;
- `publisher.is_email_enabled()`: nothing is sent unless this is true;
- `publisher.get_debug_address()`: when set, every message goes to this
  address instead of its recipients.

With no publisher (a script, a test, `qpd shell`), pass `smtp_server=` and
friends explicitly; sending is then enabled unless `enabled=False`.

Failures to send never raise: they are logged once, on the 'qpd.mail'
logger, and the result is False.
"""

import logging
import smtplib

__all__ = [
    'get_current_publisher', 'set_settings_source', 'MailSettings',
    'get_mail_settings',
    'parse_smtp_server', 'transmit',
]

logger = logging.getLogger('qpd.mail')

DEFAULT_TIMEOUT = 30


_settings_source = None


def set_settings_source(source):
    """(source:callable | None) -> None
    source() gives the object whose get_smtp_server(), is_email_enabled(),
    get_debug_address() and get_webmaster_address() decide how mail goes
    (the current publisher), or None. qpd.web.common registers itself."""
    global _settings_source
    _settings_source = source


def get_current_publisher():
    """() -> Publisher | None
    The publisher processing the current hit in this process, if any.
    """
    if _settings_source is None:
        return None
    return _settings_source()


def _ask(publisher, method_name, default=None):
    method = getattr(publisher, method_name, None)
    if method is None:
        return default
    return method()


class MailSettings:
    """(smtp_server, debug_address:str|None, enabled:bool,
        timeout:float=DEFAULT_TIMEOUT, from_address:str=None)
    Where and whether to send, once arguments and publisher are combined;
    from_address is the sender to use when a message names none (the
    publisher's webmaster address).
    """

    def __init__(self, smtp_server, debug_address, enabled,
                 timeout=DEFAULT_TIMEOUT, from_address=None):
        self.smtp_server = smtp_server
        self.debug_address = debug_address
        self.enabled = enabled
        self.timeout = timeout
        self.from_address = from_address

    def get_smtp_server(self):
        """() -> str | (host, port) | object with sendmail() | None"""
        return self.smtp_server

    def get_debug_address(self):
        """() -> str | None"""
        return self.debug_address

    def is_enabled(self):
        """() -> bool"""
        return bool(self.enabled)

    def get_timeout(self):
        """() -> float"""
        return self.timeout

    def get_from_address(self):
        """() -> str | None"""
        return self.from_address


def get_mail_settings(smtp_server=None, debug_address=None, enabled=None,
                      timeout=None, publisher=None):
    """(smtp_server=None, debug_address:str=None, enabled:bool=None,
        timeout:float=None, publisher=None) -> MailSettings
    Explicit arguments win; what they leave open comes from publisher
    (by default the current one).
    """
    if publisher is None:
        publisher = get_current_publisher()
    from_address = None
    if publisher is not None:
        from_address = _ask(publisher, 'get_webmaster_address')
        if smtp_server is None:
            smtp_server = _ask(publisher, 'get_smtp_server')
        if debug_address is None:
            debug_address = _ask(publisher, 'get_debug_address')
        if enabled is None:
            enabled = _ask(publisher, 'is_email_enabled', False)
    elif enabled is None:
        enabled = True
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    return MailSettings(smtp_server, debug_address or None, enabled, timeout,
                        from_address or None)


def parse_smtp_server(server):
    """(server:str | (host, port)) -> (host:str, port:int)
    'host' means port 25; 'host:port' and '[ipv6]:port' name the port.
    """
    if isinstance(server, (tuple, list)):
        host, port = server
        return str(host), int(port)
    server = server.strip()
    if server.startswith('['):
        host, _, rest = server[1:].partition(']')
        return host, int(rest[1:]) if rest.startswith(':') else 25
    if server.count(':') == 1:
        host, port = server.split(':')
        return host, int(port)
    return server, 25


def _describe(server):
    if hasattr(server, 'sendmail'):
        return repr(server)
    try:
        return '%s:%s' % parse_smtp_server(server)
    except (TypeError, ValueError):
        return repr(server)


def transmit(settings, from_address, recipients, data):
    """(settings:MailSettings, from_address:str, recipients:[str],
        data:bytes) -> bool
    Give data to the SMTP server for recipients.  True when the server took
    it for at least one recipient.  Never raises for a mail problem.
    """
    server = settings.get_smtp_server()
    if not settings.is_enabled():
        logger.info('email disabled; not sending %d bytes to %s',
                    len(data), ', '.join(recipients))
        return False
    if server is None:
        logger.error('email not sent to %s: no SMTP server configured',
                     ', '.join(recipients))
        return False
    if not recipients:
        logger.error('email not sent: no recipients')
        return False
    try:
        if hasattr(server, 'sendmail'):
            refused = server.sendmail(from_address, recipients, data)
        else:
            host, port = parse_smtp_server(server)
            with smtplib.SMTP(host, port,
                              timeout=settings.get_timeout()) as connection:
                refused = connection.sendmail(from_address, recipients, data)
    except (OSError, smtplib.SMTPException, ValueError) as error:
        logger.error('email not sent to %s via %s: %s',
                     ', '.join(recipients), _describe(server),
                     str(error) or type(error).__name__)
        return False
    if refused:
        logger.warning('email refused for %s via %s',
                       ', '.join(sorted(refused)), _describe(server))
    return True
