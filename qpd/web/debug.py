"""qpd.web.debug: the technical 500 page, for development.

When a site displays exceptions (`qpd serve NAME --debug`, or its
publisher's `display_exceptions()` answering true), an exception in a hit
answers 500 with the page `format_debug_page()` builds: the exception, the
traceback with a few source lines around each frame's current line and the
frame's local variables, and the request (path, fields, headers, cookies).
Production never shows it: there the plain 500 page goes out and the
publisher's report goes to the log and, when mail is enabled, to the
administrator.

Everything on the page is quoted (`xml_quote`): a local variable's repr or
a header may hold markup from the request. Secrets stay hidden even here:
cookie values, and headers, fields or locals whose names look like
passwords, tokens or keys (`is_sensitive`, the one rule of
qpd.lib.sensitive: `X-Api-Key` and `Authorization` alike) are masked, because
developers paste these pages into bug reports. Reprs are cut at
MAX_REPR characters, and a repr that raises is shown as such, so the page
itself never fails.

Source lines come from `linecache`, which reads `.qpy` files as well as
`.py` ones: the qpy compiler keeps line numbers, so the lines shown are the
template's own.
"""

import linecache
import reprlib
import sys

from qpd.lib.sensitive import is_sensitive
from qpd.qpy import xml, xml_quote, join_xml

__all__ = ['format_debug_page', 'get_frames', 'get_secrets', 'is_sensitive',
           'is_sensitive_header', 'MASK', 'MAX_REPR', 'CONTEXT_LINES']

MASK = '********'
MAX_REPR = 2000
CONTEXT_LINES = 5


_repr = reprlib.Repr()
_repr.maxstring = MAX_REPR
_repr.maxother = MAX_REPR
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 50
_repr.maxlevel = 4


def is_sensitive_header(key):
    """(key:str) -> bool: is environ[key] a request header (HTTP_*) that
    carries a credential (Cookie, Authorization, X-Api-Key, X-Auth-Token,
    ...)? The publisher's error report leaves these out too."""
    return key.startswith('HTTP_') and is_sensitive(key[5:])


def _safe_repr(value):
    """(value) -> str: a repr that never raises, at most MAX_REPR long."""
    try:
        text = _repr.repr(value)
    except Exception as e:
        text = '<repr failed: %s: %s>' % (type(e).__name__, e)
    if len(text) > MAX_REPR:
        text = text[:MAX_REPR] + '...'
    return text


def _scrub(text, secrets):
    """(text:str, secrets:[str]) -> str: text with each secret masked."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def get_secrets(request):
    """(request) -> [str]: the request's secret values (cookie and
    Authorization headers, cookie values, sensitive fields), longest first,
    to be masked wherever they show up (say in the repr of an environ)."""
    if request is None:
        return []
    environ = request.get_environ()
    secrets = [value for key, value in environ.items()
               if isinstance(value, str) and is_sensitive_header(key)]
    try:
        secrets.extend(str(v) for v in request.get_cookies().values())
    except Exception:
        pass
    try:
        secrets.extend(str(v) for k, v in request.get_fields().items()
                       if is_sensitive(k))
    except Exception:
        pass
    # repr() shows a str quoted and escaped: mask that spelling too.
    secrets.extend([repr(s)[1:-1] for s in secrets])
    return sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)


def get_frames(traceback, context=CONTEXT_LINES, secrets=()):
    """(traceback, context:int=CONTEXT_LINES, secrets:[str]=()) -> [dict]
    One dict per frame, outermost first: filename, lineno, function,
    lines ([(lineno, text)] around the current line; empty when the source
    is not found) and locals ([(name, repr)] sorted; values of sensitive
    names and every occurrence of a secret masked).
    """
    frames = []
    while traceback is not None:
        frame = traceback.tb_frame
        code = frame.f_code
        lineno = traceback.tb_lineno
        filename = code.co_filename
        linecache.checkcache(filename)
        lines = []
        for number in range(max(1, lineno - context), lineno + context + 1):
            text = linecache.getline(filename, number, frame.f_globals)
            if not text and number > lineno:
                break
            lines.append((number, _scrub(text.rstrip('\n'), secrets)))
        local_items = []
        for name, value in sorted(frame.f_locals.items(), key=lambda i: i[0]):
            shown = (MASK if is_sensitive(name)
                     else _scrub(_safe_repr(value), secrets))
            local_items.append((name, shown))
        frames.append(dict(filename=filename, lineno=lineno,
                           function=code.co_name, lines=lines,
                           locals=local_items))
        traceback = traceback.tb_next
    return frames


def _table(rows, empty='(none)'):
    """([(name, value)], empty:str) -> xml: a two-column table."""
    if not rows:
        return xml('<p class="none">%s</p>') % empty
    body = join_xml(xml('<tr><th>%s</th><td><pre>%s</pre></td></tr>') % (
        name, value) for name, value in rows)
    return xml('<table>%s</table>') % body


def _frame(frame):
    """(frame:dict) -> xml"""
    source = join_xml(
        xml('<li value="%d"%s><pre>%s</pre></li>') % (
            number, xml(' class="current"') if number == frame['lineno']
            else xml(''), text)
        for number, text in frame['lines'])
    return xml(
        '<div class="frame"><p><code>%s</code>, line %d, in '
        '<code>%s</code></p>%s<details><summary>Local variables</summary>'
        '%s</details></div>') % (
        frame['filename'], frame['lineno'], frame['function'],
        xml('<ol class="source">%s</ol>') % source if source else xml(''),
        _table(frame['locals']))


def _request_rows(request, secrets=()):
    """(request, secrets:[str]=()) -> dict of section -> [(name, value)]: fields, headers,
    cookies, with secrets masked."""
    sections = {}
    environ = request.get_environ() if request is not None else {}
    fields = []
    try:
        items = sorted(request.get_fields().items()) if request else []
    except Exception as e:      # the body may be what failed
        items = [('(fields could not be read)', '%s: %s' % (
            type(e).__name__, e))]
    for name, value in items:
        fields.append((name, MASK if is_sensitive(name)
                       else _safe_repr(value)))
    sections['fields'] = fields
    headers = []
    for key, value in sorted(environ.items()):
        if not isinstance(value, str):
            continue
        if key.startswith('HTTP_') or key in ('CONTENT_TYPE',
                                              'CONTENT_LENGTH'):
            name = key[5:] if key.startswith('HTTP_') else key
            name = name.replace('_', '-').title()
            if is_sensitive_header(key):
                value = MASK
            headers.append((name, _scrub(value, secrets)))
    sections['headers'] = headers
    cookies = []
    try:
        names = sorted(request.get_cookies()) if request else []
    except Exception:
        names = []
    for name in names:
        cookies.append((name, MASK))
    sections['cookies'] = cookies
    server = []
    for key in ('REQUEST_METHOD', 'SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING',
                'SERVER_PROTOCOL', 'SERVER_NAME', 'SERVER_PORT',
                'REMOTE_ADDR', 'wsgi.url_scheme'):
        if isinstance(environ.get(key), str):
            server.append((key, _scrub(environ[key], secrets)))
    sections['environment'] = server
    return sections


_STYLE = xml('''
body { font: 14px sans-serif; margin: 0; color: #222; }
header { background: #fec; padding: 1em 2em; border-bottom: 1px solid #ca6; }
header h1 { margin: 0 0 .3em; font-size: 1.4em; }
header pre { white-space: pre-wrap; margin: 0; font-size: 1.1em; }
section { padding: 0 2em; }
.frame { border-bottom: 1px solid #ddd; padding: .4em 0; }
.frame p { margin: .3em 0; }
ol.source { background: #f6f6f6; margin: 0; padding-left: 4em; }
ol.source li.current { background: #fcc; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: .3em 0; }
th { text-align: left; vertical-align: top; padding: 2px 1em 2px 0;
     font-family: monospace; font-weight: normal; color: #555; }
td pre { font-size: 13px; }
p.none { color: #888; }
''')


def format_debug_page(exc_info=None, request=None):
    """(exc_info:(type, value, traceback)=None, request=None) -> xml
    The whole HTML page for the exception (default: sys.exc_info()) raised
    while serving request (an HTTPRequest, or None).
    """
    kind, value, traceback = exc_info or sys.exc_info()
    name = getattr(kind, '__qualname__', str(kind))
    secrets = get_secrets(request)
    try:
        message = _scrub(str(value), secrets)
    except Exception:
        message = '(str() failed)'
    frames = get_frames(traceback, secrets=secrets)
    if request is not None:
        method = request.get_environ().get('REQUEST_METHOD', '')
        try:
            path = request.get_path_query()
        except Exception:
            path = request.get_environ().get('PATH_INFO', '')
    else:
        method = path = ''
    path = _scrub(path, secrets)
    sections = _request_rows(request, secrets)
    request_html = join_xml(
        xml('<h3>%s</h3>%s') % (title.capitalize(), _table(sections[title]))
        for title in ('fields', 'headers', 'cookies', 'environment'))
    chain = []
    cause = value.__cause__ or (None if value.__suppress_context__
                                else value.__context__)
    while cause is not None and len(chain) < 5:
        chain.append(xml('<p>During the handling of <code>%s: %s</code>'
                         '</p>') % (type(cause).__qualname__, str(cause)))
        cause = cause.__cause__ or (None if cause.__suppress_context__
                                    else cause.__context__)
    return xml(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        '<title>%(name)s at %(path)s</title><style>%(style)s</style></head>'
        '<body><header><h1>%(name)s at %(path)s</h1><pre>%(message)s</pre>'
        '<p>%(method)s %(path)s &mdash; this page shows because the site '
        'displays exceptions (qpd serve --debug); never turn it on in '
        'production.</p></header>'
        '<section><h2>Traceback</h2>%(chain)s%(frames)s</section>'
        '<section><h2>Request</h2>%(request)s</section>'
        '</body></html>\n') % dict(
            name=name, path=path, style=_STYLE, message=message,
            method=method, chain=join_xml(chain),
            frames=join_xml(_frame(frame) for frame in frames),
            request=request_html)
