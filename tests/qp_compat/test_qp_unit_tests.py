"""QP 1.1's own unit tests, ported by `qpd port` on the fly and run against
qpd (tests/qp_compat/qp_unit_runner.py does the work, in a subprocess).

Every failure must be in KNOWN below, classified as

- PY2: the test relies on Python 2 itself (a `str` that is bytes, a
  `cStringIO` that takes both), which `qpd port` rightly turns into
  Python 3 code that means something else;
- DOCUMENTED: the test checks a difference that docs/qp_api.md marks
  `differs` (the entry is named, and checked to be there) and the README
  explains.

Anything else is a bug (of qpd, or of `qpd port`) and fails this test; so
does a KNOWN entry that no longer fails (the list stays true). A failure
is matched by its test and by the line of the test file it came from, so
a test that now fails further on is a new failure to look at.

The report (passed / Python 2-only / documented / bug) is in the
assertion message, and printed by `python -m tests.qp_compat.qp_unit_runner`.
"""

import os
import re

import pytest

from tests.qp_compat import qp_unit_runner

PY2 = 'Python 2-only'
DOCUMENTED = 'documented'

ROOT = qp_unit_runner.ROOT
QP_API = os.path.join(ROOT, 'docs', 'qp_api.md')

# test id -> (line of the failure, kind, docs/qp_api.md entry or None, why)
KNOWN = {
    # -- Python 2-only ------------------------------------------------------
    'http/test/utest_request.py::Test.check_boundary_not_in_content': (
        122, PY2, None, "the body is a cStringIO of str (bytes); ported, an "
        "io.StringIO of text, which a Python 3 request body cannot be"),
    'http/test/utest_request.py::Test.check_multipart_form': (
        141, PY2, None, "request body given as text (Python 2 str)"),
    'http/test/utest_request.py::Test.check_multipart_form_without_filename': (
        151, PY2, None, "request body given as text (Python 2 str)"),
    'http/test/utest_request.py::Test.check_content_disposition_header_missing': (
        161, PY2, None, "request body given as text (Python 2 str)"),
    'http/test/utest_request.py::Test.check_content_disposition_header_without_name': (
        175, PY2, None, "request body given as text (Python 2 str)"),
    'http/test/utest_request.py::Test.check_content_disposition_header_not_form_data': (
        185, PY2, None, "request body given as text (Python 2 str)"),
    'http/test/utest_request.py::Test.check_upload': (
        282, PY2, None, "Upload.receive gets a str, the bytes of Python 2; "
        "an upload's content is bytes on Python 3"),
    'http/test/utest_response.py::Test.check_write': (
        76, PY2, None, "writes the response into a cStringIO (str is "
        "bytes); ported to io.StringIO, which takes no bytes"),
    'lib/test/utest_spec.py::SpecTest.check_match': (
        56, PY2, None, "unicode('\\x99', 'latin1') decodes a byte str; "
        "ported, str('\\x99', 'latin1'), which Python 3 cannot decode (the "
        "literal is already text)"),
    'lib/test/utest_spec.py::SpecTest.check_strings': (
        177, PY2, None, "charset('utf16')('\\x33') is false in Python 2 "
        "because '\\x33' is one byte; on Python 3 it is the text '3', "
        "which UTF-16 encodes"),
    # -- documented differences --------------------------------------------
    'http/test/utest_request.py::Test.check_lineinput': (
        188, DOCUMENTED, 'LineInput', "not provided: python-multipart "
        "parses bodies"),
    'http/test/utest_request.py::Test.check_mimeinput': (
        199, DOCUMENTED, 'LineInput', "not provided: python-multipart "
        "parses bodies"),
    'http/test/utest_request.py::Test.check_parse_query': (
        42, DOCUMENTED, 'parse_query', "UTF-8 only: charset iso-8859-1 is "
        "refused"),
    'http/test/utest_response.py::Test.c': (
        90, DOCUMENTED, 'set_cookie', "a value a cookie cannot carry ('\"ok') "
        "is refused"),
    'pub/test/utest_publish.py::Test.check_empty_path_info': (
        91, DOCUMENTED, 'redirect', "without allowed_hosts the Location is "
        "site-relative ('/'), never built on the client's Host"),
    'pub/test/utest_publish.py::Test.check_path_info_with_no_slash': (
        100, DOCUMENTED, 'redirect', "without allowed_hosts the Location is "
        "site-relative ('/a'), never built on the client's Host"),
    'pub/test/utest_common.py::Test.check_common': (
        70, DOCUMENTED, 'ensure_signed_in', "the default sign-in is the form "
        "(403), not Digest's redirect to https (302)"),
    'pub/test/utest_publish.py::Test.check_ensure_signed_in_using_digest': (
        114, DOCUMENTED, 'ensure_signed_in_using_digest', "over plain http "
        "without an https address qpd answers 403, not a redirect; nonces "
        "are stateless HMACs, not tokens of the null user"),
    'pub/test/utest_session.py::Test.check_a': (
        26, DOCUMENTED, 'Session', "Session() does not read the request: "
        "the address is Session(remote_address) and is_valid(address)"),
    'pub/test/utest_user.py::Test.check_a': (
        48, DOCUMENTED, 'is_granted', "is_granted(permission) without a "
        "granter means granted by anyone (QP: by the root)"),
    'fill/test/utest_form.py::Test.f': (
        99, DOCUMENTED, 'SelectWidget', "option keys never come from "
        "descriptions, so equal descriptions are no AssertionError"),
    'http/test/utest_request.py::Test.check_cookies': (
        66, DOCUMENTED, 'parse_cookies', "a cookie piece without '=' is "
        "skipped"),
    'http/test/utest_request.py::ParseCookiesTest.check_basic': (
        292, DOCUMENTED, 'parse_cookies', "a cookie piece without '=' is "
        "skipped (then: no backslash unescaping, no split on ',')"),
    'http/test/utest_response.py::Test.b': (
        45, DOCUMENTED, 'status', "HTTPResponse.status is the code; "
        "get_status() is QP's pair"),
    'mail/test/utest_send.py::Test.a': (
        25, DOCUMENTED, 'format_headers', "the header block as the email "
        "package writes it (CRLF, its order, Date, Message-ID, MIME)"),
    'mail/test/utest_send.py::Test.b': (
        55, DOCUMENTED, 'format_headers', "the header block as the email "
        "package writes it; a long list is '\"30 recipients suppressed\":;'"),
}


def documented_entries():
    """() -> {QP name: {status}}: the first QP name of each docs/qp_api.md
    row, with the status of its rows"""
    entries = {}
    with open(QP_API, encoding='utf-8') as source:
        for line in source:
            cells = [cell.strip()
                     for cell in line.strip().strip('|').split('|')]
            if len(cells) == 3:
                found = re.match(r'`([\w.]+)', cells[0])
                if found:
                    entries.setdefault(found.group(1), set()).add(
                        cells[2].split(':')[0])
    return entries


def classify(test_id, outcome=None):
    known = KNOWN.get(test_id)
    if known is None:
        return None
    line, kind, entry, _ = known
    if outcome is not None and not outcome.where.startswith(
            '%s:%s:' % (test_id.split('::')[0], line)):
        return None
    return kind if entry is None else '%s: %s' % (kind, entry)


def test_known_entries_are_documented():
    entries = documented_entries()
    for test_id, (line, kind, entry, why) in KNOWN.items():
        assert kind in (PY2, DOCUMENTED), test_id
        assert why, test_id
        if kind == DOCUMENTED:
            assert 'differs' in entries.get(entry, ()), (
                '%s: docs/qp_api.md has no differs row for %s' % (test_id,
                                                                   entry))


@pytest.fixture(scope='module')
def result(tmp_path_factory):
    tarball = qp_unit_runner.find_tarball()
    if not os.path.exists(tarball):
        pytest.skip('QP 1.1 is not at %s (put qp-1.1.tar.gz there, or name '
                    'it with QP_TARBALL)' % tarball)
    return qp_unit_runner.run_subprocess(
        tarball, str(tmp_path_factory.mktemp('qp_utests')))


def test_qp_unit_tests(result):
    outcomes = [qp_unit_runner.Outcome.from_json(o)
                for o in result['outcomes']]
    assert len(outcomes) == 77 and len(result['files']) == 13
    failed = [o for o in outcomes if not o.passed]
    labels = {o.test_id: classify(o.test_id, o) for o in failed}
    bugs = [o for o in failed if labels[o.test_id] is None]
    stale = sorted(set(KNOWN) - {o.test_id for o in failed})
    counts = dict(passed=len(outcomes) - len(failed),
                  py2=sum(1 for o in failed
                          if (labels[o.test_id] or '').startswith(PY2)),
                  documented=sum(1 for o in failed if (
                      labels[o.test_id] or '').startswith(DOCUMENTED)),
                  bug=len(bugs))
    report = qp_unit_runner.format_report(
        result, lambda test_id: labels.get(test_id))
    summary = ('QP 1.1 unit tests: %(passed)d passed, %(py2)d Python 2-only, '
               '%(documented)d documented, %(bug)d bug' % counts)
    print(summary)
    assert not bugs and not stale, '%s\n%s\nno longer failing: %s' % (
        report, summary, stale)


def test_port_reports_only_what_qpd_lacks(result):
    # `qpd port` converts the files; what it leaves is one name qpd does
    # not provide (documented), nothing else; it exits 1 for it.
    report = result['port_report']
    assert result['port_exit'] == 1, report
    assert '1 line(s) left to edit by hand' in report[-1], report
    assert any(line.startswith('http/test/utest_request.py:8: ') and
               'LineInput' in line for line in report), report
