"""docs/qp_api.md cannot drift from the code.

The document holds one row per entry of QP's public API (341, in the
sections of the QP API reference). This test checks that

- every section still has its entries, and no row is left `missing`;
- every status is `ok` or `differs: <reason>`;
- every qpd object a row names (a dotted path in backticks) imports;
- an `ok` row names at least one object, and when its QP column shows as
  many call signatures as it names objects, each object accepts QP's
  parameters (required ones by position, optional ones by their QP name);
- every `differs` row has its entry in README.md's "Differences from QP",
  which names the row's first QP name in backticks.
"""

import importlib
import inspect
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, 'docs', 'qp_api.md')
README = os.path.join(ROOT, 'README.md')

# The QP API reference's sections and how many entries each has.
SECTION_SIZES = {
    'qpy': 19, 'qp/pub/common': 17, 'qp/pub/publish': 43, 'qp/pub/hit': 8,
    'qp/http/request': 33, 'qp/http/response': 22, 'qp/fill/directory': 9,
    'qp/fill/form': 25, 'qp/fill/widget': 26, 'qp/fill/html': 8,
    'qp/fill/css': 3, 'qp/pub/session': 11, 'qp/pub/user': 22,
    'qp/lib/keep': 10, 'qp/lib/spec': 37, 'qp/lib/util': 3,
    'qp/mail/send': 19, 'qp/lib/site': 20, 'qp/hub': 6,
}

_SIGNATURE = re.compile(r'^([A-Za-z_][\w.]*)\((.*)\)$')


def split_cells(line):
    """(line:str) -> [str]: the cells of a table row; `|` inside code
    spans does not split."""
    cells, cell, in_code = [], '', False
    for char in line.strip().strip('|'):
        if char == '`':
            in_code = not in_code
        if char == '|' and not in_code:
            cells.append(cell.strip())
            cell = ''
        else:
            cell += char
    cells.append(cell.strip())
    return cells


def read_rows():
    """() -> [(section:str, qp:str, qpd:str, status:str)]"""
    rows = []
    section = None
    with open(DOC, encoding='utf-8') as file:
        for line in file:
            if line.startswith('## '):
                section = line[3:].split('→')[0].split(',')[0].split()[0]
            elif (section and line.startswith('| ')
                  and not line.startswith('| QP |')):
                cells = split_cells(line)
                assert len(cells) == 3, line
                rows.append((section,) + tuple(cells))
    return rows


ROWS = read_rows()


def code_spans(text):
    return re.findall(r'`([^`]+)`', text)


def row_id(row):
    return '%s %s' % (row[0], row[1][:50])


def resolve(path):
    """(path:str) -> (object, owner|None, name)"""
    parts = path.split('.')
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:cut]))
        except ImportError:
            continue
        owner = None
        for name in parts[cut:]:
            owner = obj
            obj = getattr(obj, name)
        return obj, owner, parts[-1]
    raise ImportError(path)


def qp_parameters(text):
    """(text:str) -> [(name, kind)] with kind 'required', 'optional',
    'star' or 'starstar'"""
    result = []
    depth = 0
    part = ''
    parts = []
    for char in text:
        if char in '([{':
            depth += 1
        elif char in ')]}':
            depth -= 1
        if char == ',' and depth == 0:
            parts.append(part)
            part = ''
        else:
            part += char
    parts.append(part)
    for part in parts:
        part = part.strip()
        if not part or part in ('…', '...'):
            continue
        if part.startswith('**'):
            result.append((part[2:], 'starstar'))
        elif part.startswith('*'):
            result.append((part[1:], 'star'))
        elif '=' in part:
            result.append((part.split('=')[0].strip(), 'optional'))
        else:
            result.append((part, 'required'))
    return result


def check_accepts(target, owner, name, parameters):
    """Does target accept QP's parameters? AssertionError if not."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return   # a builtin without a signature
    args = []
    if (inspect.isclass(owner)
            and inspect.isfunction(inspect.getattr_static(owner, name, None))):
        args.append('self')
    kwargs = {}
    for parameter, kind in parameters:
        if kind == 'required':
            args.append(parameter)
        elif kind == 'optional':
            kwargs[parameter] = parameter
        elif kind == 'star':
            args += ['extra1', 'extra2']
    signature.bind(*args, **kwargs)


def test_every_section_has_its_entries():
    sizes = {}
    for row in ROWS:
        sizes[row[0]] = sizes.get(row[0], 0) + 1
    assert sizes == SECTION_SIZES
    assert len(ROWS) == 341


@pytest.mark.parametrize('row', ROWS, ids=row_id)
def test_row(row):
    section, qp, qpd, status = row
    assert status == 'ok' or re.fullmatch(r'differs: \S.*', status), (
        '%s: status must be ok or "differs: <reason>", not %r' % (qp, status))
    paths = [span for span in code_spans(qpd) if span.startswith('qpd')]
    targets = [resolve(path) for path in paths]
    if status != 'ok':
        return
    assert targets, '%s: an ok row names the qpd object(s)' % qp
    signatures = [match for match in map(_SIGNATURE.match, code_spans(qp))
                  if match]
    if len(signatures) == len(targets):
        for match, (target, owner, name) in zip(signatures, targets):
            if callable(target) and match.group(2).strip() not in ('…', '...'):
                parameters = qp_parameters(match.group(2))
                try:
                    check_accepts(target, owner, name, parameters)
                except TypeError as error:
                    pytest.fail('%s does not accept QP\'s %s: %s' % (
                        name, match.group(0), error))


def differences_section():
    with open(README, encoding='utf-8') as file:
        text = file.read()
    start = text.find('\n## Differences from QP')
    assert start >= 0, 'README.md has no section "## Differences from QP"'
    end = text.find('\n## ', start + 1)
    return text[start:] if end < 0 else text[start:end]


@pytest.mark.parametrize('row', [row for row in ROWS if row[3] != 'ok'],
                         ids=row_id)
def test_difference_is_explained_in_readme(row):
    section, qp, qpd, status = row
    first = code_spans(qp)[0]
    name = first.split('(')[0].strip()
    text = differences_section()
    assert ('`%s`' % name in text or '`%s(' % name in text), (
        'README "Differences from QP" has no entry for `%s` (%s)' % (
            name, status))
