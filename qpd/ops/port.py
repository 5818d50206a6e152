"""`qpd port DIR`: make a QP site (Python 2, QP's modules) a qpd site.

    qpd port path/to/site            # in place, each original kept as FILE.qp-orig
    qpd port path/to/site --diff     # the unified diff of what it would write

Every `.py` and `.qpy` file below DIR goes through five steps, each owned
by one piece of this module:

1. Templates masked (`.qpy` only). QP's `def name [html] (...)` and
   `[plain]` (and qpd's `def name:xml(...)`) are not Python, so each marker
   becomes part of the function's name (`name__qpd_template_0__`) before
   the converter parses the file, and is put back, exactly as it was
   written, after. The template bodies (bare string expressions) are
   plain Python expression statements and go through unchanged.
2. Python 2 to 3 with fissix (a maintained lib2to3) and its standard
   fixers, `idioms` included (`v = d.items(); v.sort()` becomes
   `v = sorted(d.items())`: the `list()` the dict fixer put in between is
   taken out again), plus one of ours for the `string` module's functions
   (`string.join(words, sep)` -> `sep.join(words)`), and fissix's
   relative-import fixer taught that a sibling `.qpy` is a local module.
   A file fissix cannot parse is left as it was and reported.
3. QP's names to qpd's: every `qp.…`/`qpy…` import rewritten from one
   table, MODULES (QP module -> the qpd modules that hold its names, first
   one first), which the README prints (`python -m qpd.ops.port
   --markdown`); `qp.sites.NAME…` becomes `qpd.sites.NAME…`; QP's
   `compile_qpy_files(...)` call (and its import) is dropped, since qpd's
   import hook compiles `.qpy` files. `map_module` and `map_class` answer
   the same table for other tools (`qpd migrate` maps pickled class paths
   with them).
4. The configuration made one qpd starts with (port_configuration): a
   site's own keys take the `site_` prefix, and so do the `.get('KEY')`
   reads of them in every file of the site (so every file is ported
   before any is written); a plain-TCP `durus_address` on loopback, which
   qpd refuses, is commented out (qpd's default is a unix socket). A key
   that looks like a typo of one of qpd's (`max_childern`) is not
   renamed: the next step reports it.
5. Checks on the result, each reported as `FILE:LINE: what, and what to
   write instead` (lines of the ported file): imports and names with no
   qpd counterpart, `string` functions Python 3 lacks, configuration keys
   qpd would refuse (a near miss names both fixes), values qpd refuses,
   a plain-TCP `durus_address` left, an scgi or as_https listener beyond
   loopback (qpd refuses it), an http address on every interface, and
   Digest sign-in (qpd then stores the digests it needs: see
   qpd.storage.digester).

What is reported is either *left* (the site will not work until a person
edits the line: the command then exits 1) or a *note* (`FILE:LINE: note:
...`: it works, but differently from QP, or less safely). The last line
counts what each step converted. Running it again changes nothing: a file
whose original is kept is not converted from Python 2 again, and every
other step leaves converted code as it is. `--diff` prints exactly what
the first run would write. It does not migrate a database (`qpd migrate`).
"""

import ast
import collections
import difflib
import importlib
import io
import os
import re
import string as string_module
import sys

from fissix import fixer_base, pygram
from fissix.fixer_util import (
    ArgList, Comma, Dot, Name, Node, String, does_tree_import, parenthesize)
from fissix.fixes import fix_import
from fissix.pgen2 import token as fissix_token
from fissix.pgen2 import tokenize as fissix_tokenize
from fissix.pgen2.parse import ParseError
from fissix.refactor import RefactoringTool, get_fixers_from_package

from qpd import config
from qpd.lib.address import is_loopback
from qpd.ops.errors import OperationError

__all__ = ['MODULES', 'BEGIN_MARKER', 'END_MARKER', 'Problem', 'map_module',
           'map_class', 'mask_templates', 'unmask_templates',
           'convert_python2', 'port_source', 'port_file', 'port_directory',
           'render_markdown', 'main']

# QP module -> qpd modules holding its names (the first is the default).
MODULES = [
    ('qpy', ['qpd.qpy']),
    ('qp.pub.common', ['qpd.web.common']),
    ('qp.pub.publish', ['qpd.web.publish', 'qpd.web.errors']),
    ('qp.pub.hit', ['qpd.web.hit']),
    ('qp.pub.session', ['qpd.storage.session']),
    ('qp.pub.user', ['qpd.storage.user', 'qpd.storage.permissions',
                     'qpd.storage.token_set', 'qpd.storage.digester']),
    ('qp.http.request', ['qpd.web.request']),
    ('qp.http.response', ['qpd.web.response']),
    ('qp.fill.directory', ['qpd.web.directory']),
    ('qp.fill.durus_directory', ['qpd.web.durus_directory']),
    ('qp.fill.form', ['qpd.web.form']),
    ('qp.fill.widget', ['qpd.web.widget']),
    ('qp.fill.html', ['qpd.web.html', 'qpd.qpy']),
    ('qp.fill.css', ['qpd.web.css']),
    ('qp.fill.static', ['qpd.web.static']),
    ('qp.lib.spec', ['qpd.lib.spec']),
    ('qp.lib.keep', ['qpd.storage.keep']),
    ('qp.lib.util', ['qpd.lib.util']),
    ('qp.lib.tz', ['qpd.lib.tz']),
    ('qp.lib.site', ['qpd.site']),
    ('qp.mail.send', ['qpd.lib.mail']),
    ('qp.mail.rfc822_mailbox', ['qpd.lib.mail.rfc822']),
]

# A QP site package `qp.sites.NAME` is qpd's `qpd.sites.NAME`.
QP_SITES = 'qp.sites'
QPD_SITES = 'qpd.sites'

# QP modules with no counterpart, and what a porter writes instead.
GONE = {
    'qp.hub': "QP's server; qpd runs the site itself (qpd start NAME, "
              "qpd serve NAME): drop the import",
    'qpy.compile': "qpd compiles .qpy files on import: drop the import "
                   "(qpd.qpy.compiler.compile_qpy compiles one source)",
}

BEGIN_MARKER = ('<!-- qpd port table: generated by '
                '`python -m qpd.ops.port --markdown`; do not edit -->')
END_MARKER = '<!-- end of qpd port table -->'

ORIGINAL_SUFFIX = '.qp-orig'

_TABLE = dict(MODULES)
_FROM = re.compile(r'^(?P<indent>[ \t]*)from[ \t]+'
                   r'(?P<module>(?:qpy|qp)(?:\.\w+)*)[ \t]+import[ \t]+', re.M)
_IMPORT = re.compile(r'^(?P<indent>[ \t]*)import[ \t]+(?P<rest>[^\n#]*)', re.M)
_QP_MODULE = re.compile(r'^(?:qpy|qp)(?:\.\w+)*$')
# QP's site __init__: `from qpy.compile import compile_qpy_files` and
# `compile_qpy_files(__path__[0])`.
_COMPILE_IMPORT = re.compile(
    r'^[ \t]*from[ \t]+qpy\.compile[ \t]+import[ \t]+compile_qpy_files'
    r'[ \t]*(?:#[^\n]*)?\n', re.M)
_COMPILE_CALL = re.compile(
    r'^(?P<indent>[ \t]*)compile_qpy_files\([^\n]*\)[ \t]*(?:#[^\n]*)?\n',
    re.M)


class Problem:
    """(path:str, line:int, text:str, left:bool=True)
    What port reports about one line: text says what, and what to write
    instead. left: the line still needs a person (else it is a note: it
    works, but differently from QP).
    """

    def __init__(self, path, line, text, left=True):
        self.path = path
        self.line = line
        self.text = text
        self.left = left

    def __str__(self):
        """`FILE:LINE: what, and what to write instead` (a note says
        `note: ` after the line number)"""
        return '%s:%s: %s%s' % (self.path, self.line,
                                '' if self.left else 'note: ', self.text)

    def __repr__(self):
        return '<Problem %s>' % self

    def __eq__(self, other):
        return (isinstance(other, Problem) and
                (self.path, self.line, self.text, self.left) ==
                (other.path, other.line, other.text, other.left))

    def __hash__(self):
        return hash((self.path, self.line, self.text))


def render_markdown():
    """() -> str: the README's table of MODULES, markers included"""
    lines = [BEGIN_MARKER, '', '| QP module | qpd module(s) |', '|---|---|']
    for qp_name, qpd_names in MODULES:
        lines.append('| `%s` | %s |' % (
            qp_name, ', '.join('`%s`' % name for name in qpd_names)))
    lines.append('| `%s.NAME…` | `%s.NAME…` (the site itself) |' % (
        QP_SITES, QPD_SITES))
    lines.extend(['', END_MARKER])
    return '\n'.join(lines) + '\n'


# The table, for port and for other tools ----------------------------------

def _targets(module):
    """(module:str) -> ([qpd module], check_names:bool) | None
    The qpd modules a QP module's names are in; check_names is False for
    a site's own modules (not importable while porting)."""
    if module in _TABLE:
        return _TABLE[module], True
    if module.startswith(QP_SITES + '.'):
        return [QPD_SITES + module[len(QP_SITES):]], False
    return None


def map_module(name):
    """(name:str) -> str | None
    The qpd module for QP module name (`qp.pub.user` -> `qpd.storage.user`,
    `qp.sites.NAME.slash` -> `qpd.sites.NAME.slash`), or None when qpd has
    no counterpart. A name that is not QP's (`os`) is answered as it is.
    """
    if not _QP_MODULE.match(name):
        return name
    found = _targets(name)
    return None if found is None else found[0][0]


def map_class(module, name):
    """(module:str, name:str) -> (module:str, name:str) | None
    Where qpd defines what QP defined as module.name: the first qpd module
    of module's row that has name, given as the module that defines it
    (so a pickle of it names its class where qpd keeps it). A site's own
    class keeps its name in qpd.sites. None when qpd has no such name.
    """
    found = _targets(module) if _QP_MODULE.match(module) else ([module],
                                                                False)
    if found is None:
        return None
    targets, check_names = found
    if not check_names:
        return targets[0], name
    for target in targets:
        value = _get_name(target, name)
        if value is not None:
            defined_in = getattr(value, '__module__', None)
            if (isinstance(value, type) and defined_in and
                    _get_name(defined_in, name) is value):
                return defined_in, name
            return target, name
    return None


_modules = {}


def _import(module_name):
    if module_name not in _modules:
        try:
            _modules[module_name] = importlib.import_module(module_name)
        except ImportError:
            _modules[module_name] = None
    return _modules[module_name]


def _get_name(module_name, name):
    """(module_name:str, name:str) -> what the qpd module calls name (a
    submodule too), or None."""
    module = _import(module_name)
    if module is None:
        return None
    if hasattr(module, name):
        return getattr(module, name)
    return _import('%s.%s' % (module_name, name))


def _has_name(module_name, name):
    return _get_name(module_name, name) is not None


def _gone(module):
    """(module:str) -> str: what to write instead of a QP module qpd lacks"""
    for prefix, fix in GONE.items():
        if module == prefix or module.startswith(prefix + '.'):
            return 'module %s is not in qpd: %s' % (module, fix)
    return ('module %s has no qpd counterpart: import the qpd module that '
            'does its work (README, "Porting a QP site")' % module)


# Step 1: templates masked ---------------------------------------------------

_MASK = '__qpd_template_%d__'
_MASK_PATTERN = re.compile(r'__qpd_template_(\d+)__')
_BRACKETS = ('html', 'plain')
_COLONS = ('xml', 'str')


def mask_templates(text):
    """(text:str) -> (masked:str, markers:[str])
    text with every template marker (`[html]`, `[plain]`, `:xml`, `:str`
    after `def name`, with the spaces around it) replaced by
    `__qpd_template_N__`, joined to the name, so that a Python parser reads
    it; markers[N] is the text it replaced. Tokenized the way fissix
    tokenizes, so Python 2 source is read right. Raises fissix's
    TokenError for what cannot be tokenized.
    """
    starts = [0]
    for line in io.StringIO(text):
        starts.append(starts[-1] + len(line))

    def offset(position):
        return starts[position[0] - 1] + position[1]
    tokens = [t for t in fissix_tokenize.generate_tokens(
        io.StringIO(text).readline)
        if t[0] not in (fissix_tokenize.NL, fissix_tokenize.COMMENT)]
    spans = []
    for index in range(len(tokens) - 4):
        keyword, name, first = tokens[index:index + 3]
        if not (keyword[1] == 'def' and name[0] == fissix_token.NAME):
            continue
        if (first[1] == '[' and index + 5 < len(tokens)
                and tokens[index + 3][1] in _BRACKETS
                and tokens[index + 4][1] == ']'
                and tokens[index + 5][1] == '('):
            paren = tokens[index + 5]
        elif (first[1] == ':' and tokens[index + 3][1] in _COLONS
                and tokens[index + 4][1] == '('):
            paren = tokens[index + 4]
        else:
            continue
        spans.append((offset(name[3]), offset(paren[2])))
    out = []
    markers = []
    position = 0
    for start, end in spans:
        out.append(text[position:start])
        out.append(_MASK % len(markers))
        markers.append(text[start:end])
        position = end
    out.append(text[position:])
    return ''.join(out), markers


def unmask_templates(text, markers):
    """(text:str, markers:[str]) -> str: mask_templates undone"""
    return _MASK_PATTERN.sub(lambda m: markers[int(m.group(1))], text)


# Step 2: Python 2 to 3 with fissix ------------------------------------------

# fissix's fixers (2to3's standard set), and idioms, which 2to3 runs only
# when asked: it is the one that turns `v = d.items(); v.sort()` into
# `v = sorted(d.items())`. Left out: buffer (memoryview is not a drop-in),
# set_literal and ws_comma (style only).
_FIXERS = [name for name in get_fixers_from_package('fissix.fixes')
           if name.rpartition('.')[2] not in (
               'fix_buffer', 'fix_set_literal', 'fix_ws_comma')]
_EXPLICIT = ['fissix.fixes.fix_idioms']


class _FixImport(fix_import.FixImport):
    """fissix's implicit-relative-import fixer, knowing that a sibling
    `.qpy` file is a module too (qpd's import hook loads it)."""

    def probably_a_local_import(self, imp_name):
        if super().probably_a_local_import(imp_name):
            return True
        if imp_name.startswith('.'):
            return False
        base = os.path.join(os.path.dirname(self.filename),
                            imp_name.split('.')[0])
        return os.path.exists(base + '.qpy')


# string.f(s, ...) -> s.f(...): the functions Python 3's string module lost
# that are str methods; join's separator comes first; atoi & co. are calls.
_STRING_METHODS = frozenset(
    'capitalize center count expandtabs find index ljust lower lstrip '
    'replace rfind rindex rjust rsplit rstrip split splitfields strip '
    'swapcase upper zfill'.split())
_STRING_CALLS = {'atoi': 'int', 'atol': 'int', 'atof': 'float'}
_STRING_CONSTANTS = {'letters': 'ascii_letters',
                     'lowercase': 'ascii_lowercase',
                     'uppercase': 'ascii_uppercase'}


class _FixStringModule(fixer_base.BaseFix):
    """Python 2's `string` module functions, on fissix's trees:
    `string.lower(s)` -> `s.lower()`, `string.join(words, sep)` ->
    `sep.join(words)` (a space by default), `string.atoi(s)` -> `int(s)`,
    `string.letters` -> `string.ascii_letters`. Only in a file that
    imports string; what it cannot rewrite port's checks report."""

    BM_compatible = True
    PATTERN = """
    power< module='string' trailer< '.' name=NAME >
           call=trailer< '(' [args=any] ')' > any* >
    |
    power< module='string' trailer< '.' name=NAME > any* >
    """

    def transform(self, node, results):
        if not does_tree_import(None, 'string', node):
            return None
        name = results['name'].value
        call = results.get('call')
        if call is None:
            if name in _STRING_CONSTANTS:
                results['name'].replace(Name(_STRING_CONSTANTS[name],
                                             prefix=results['name'].prefix))
            return None
        args = results.get('args')
        if args is None:
            return None
        if args.type == self.syms.arglist:
            items = [a for a in args.children if a.type != fissix_token.COMMA]
        else:
            items = [args]
        if any(a.type == self.syms.argument or
               (a.type == self.syms.star_expr) for a in items):
            return None
        rest = node.children[3:]
        if name in _STRING_CALLS:
            new = Node(self.syms.power, [
                Name(_STRING_CALLS[name]),
                ArgList([a.clone() for a in _with_commas(items)])]
                + [child.clone() for child in rest])
        elif name in ('join', 'joinfields') and 1 <= len(items) <= 2:
            sep = (items[1].clone() if len(items) == 2 else String("' '"))
            new = Node(self.syms.power, [
                _receiver(sep), Node(self.syms.trailer, [Dot(),
                                                         Name('join')]),
                ArgList([items[0].clone()])] + [c.clone() for c in rest])
        elif name in _STRING_METHODS:
            method = 'split' if name == 'splitfields' else name
            new = Node(self.syms.power, [
                _receiver(items[0].clone()),
                Node(self.syms.trailer, [Dot(), Name(method)]),
                ArgList([a.clone() for a in _with_commas(items[1:])])]
                + [c.clone() for c in rest])
        else:
            return None
        new.prefix = node.prefix
        return new


def _with_commas(items):
    out = []
    for item in items:
        if out:
            out.append(Comma())
        item = item.clone()
        item.prefix = ' ' if out else ''
        out.append(item)
    return out


def _receiver(node):
    """node, parenthesized unless it is a name, a literal or a call"""
    node.prefix = ''
    if node.type in (fissix_token.NAME, fissix_token.STRING,
                     fissix_token.NUMBER) or node.type == pygram.python_symbols.atom:
        return node
    if (node.type == pygram.python_symbols.power and
            node.children[-1].type == pygram.python_symbols.trailer):
        return node
    return parenthesize(node)


class _Converter(RefactoringTool):
    """fissix's RefactoringTool with port's fixers, counting the changes
    each fixer makes (by its name) in counts."""

    def __init__(self, print_function):
        self.counts = collections.Counter()
        super().__init__(_FIXERS, {'print_function': print_function},
                         explicit=_EXPLICIT)

    def get_fixers(self):
        pre, post = super().get_fixers()
        post.append(_FixStringModule(self.options, self.fixer_log))
        return ([self._counted(f) for f in pre],
                [self._counted(f) for f in post])

    def _counted(self, fixer):
        name = type(fixer).__module__.rpartition('.')[2]
        if name.startswith('fix_'):
            name = name[4:]         # fissix's: import, dict, print...
        else:
            name = 'string'         # ours, _FixStringModule
        if type(fixer) is fix_import.FixImport:
            fixer = _FixImport(self.options, self.fixer_log)
        transform = fixer.transform
        counts = self.counts

        def counted(node, results):
            before = str(node)
            new = transform(node, results)
            if str(new if new is not None else node) != before:
                counts[name] += 1
            return new
        fixer.transform = counted
        return fixer

    def log_error(self, msg, *args, **kwargs):
        raise                               # the caller reports it

    def print_output(self, old, new, filename, equal):
        pass


def _only_argument(trailer):
    """The one argument of a call's trailer `( x )`, or None (fissix's
    own Call() wraps even one argument in an arglist)."""
    syms = pygram.python_symbols
    if not (trailer.type == syms.trailer and len(trailer.children) == 3
            and trailer.children[0].value == '('):
        return None
    argument = trailer.children[1]
    if argument.type == syms.arglist:
        if len(argument.children) != 1:
            return None
        argument = argument.children[0]
    if argument.type in (syms.argument, syms.star_expr):
        return None
    return argument


def _is_call_of(node, name):
    """node is `name(...)`, nothing after: its one argument, or None"""
    if not (node.type == pygram.python_symbols.power and
            len(node.children) == 2 and
            node.children[0].type == fissix_token.NAME and
            node.children[0].value == name):
        return None
    return _only_argument(node.children[1])


def _unwrap_sorted_list(tree):
    """`sorted(list(x))` -> `sorted(x)` in tree: what the dict fixer and
    idioms make of QP's `items = d.items(); items.sort()` together."""
    for node in list(tree.pre_order()):
        inner = _is_call_of(node, 'sorted')
        if inner is None:
            continue
        argument = _is_call_of(inner, 'list')
        if argument is None:
            continue
        argument.remove()
        argument.prefix = inner.prefix
        inner.replace(argument)


_converters = {}


def convert_python2(text, path='<source>'):
    """(text:str, path:str='<source>') -> (str, Counter)
    text converted from Python 2 to 3 by fissix (read with the print
    function first, so `print(x)` stays a call; else with Python 2's print
    statement), and the count of
    changes per fixer. path is where the file is (fissix's relative-import
    fixer looks for its siblings). Raises SyntaxError (with the line) when
    neither grammar reads it.
    """
    if not text.strip():
        return text, collections.Counter()
    source = text if text.endswith('\n') else text + '\n'
    error = None
    for print_function in (True, False):
        converter = _converters.get(print_function)
        if converter is None:
            converter = _converters[print_function] = _Converter(
                print_function)
        converter.counts.clear()
        try:
            tree = converter.refactor_string(source, path)
        except ParseError as e:
            error = e
            continue
        except fissix_tokenize.TokenError as e:
            error = e
            continue
        _unwrap_sorted_list(tree)
        result = str(tree)
        if not text.endswith('\n'):
            result = result[:-1]
        return result, collections.Counter(converter.counts)
    line = getattr(error, 'context', (None, (0, 0)))[1][0] if isinstance(
        error, ParseError) else (error.args[1][0] if len(error.args) > 1
                                 else 0)
    raise SyntaxError(str(error).split(':')[0], (path, line, 0, None))


# Step 3: imports ------------------------------------------------------------

def _parse_names(text, start):
    """(text:str, start:int) -> (names:[(name, alias)], end:int)
    The names of a from-import whose name list starts at text[start:].
    """
    if text.startswith('(', start):
        end = text.index(')', start) + 1
        body = text[start + 1:end - 1]
    else:
        end = start
        while True:
            newline = text.find('\n', end)
            if newline < 0:
                newline = len(text)
            if text[end:newline].rstrip().endswith('\\'):
                end = newline + 1
                continue
            end = newline
            break
        body = text[start:end].replace('\\\n', ' ')
    body = re.sub(r'#[^\n]*', '', body)
    names = []
    for item in body.replace('\n', ' ').split(','):
        item = item.strip()
        if not item:
            continue
        parts = item.split()
        if len(parts) == 3 and parts[1] == 'as':
            names.append((parts[0], parts[2]))
        else:
            names.append((parts[0], None))
    return names, end


def _line_of(text, position):
    return text.count('\n', 0, position) + 1


def _format_from(indent, module, names):
    items = ', '.join(name if alias is None else '%s as %s' % (name, alias)
                      for name, alias in names)
    line = '%sfrom %s import %s' % (indent, module, items)
    if len(line) <= 79:
        return line
    return '%sfrom %s import (\n%s    %s)' % (indent, module, indent,
                                              items)


def _port_from(text, match, path, problems):
    """-> (replacement:str, end:int) for one `from qp... import` statement"""
    module = match.group('module')
    indent = match.group('indent')
    line = _line_of(text, match.start())
    names, end = _parse_names(text, match.end())
    found = _targets(module)
    if found is None:
        # `from qp.pub import common`: a package and its modules.
        groups = {}
        for name, alias in names:
            full = '%s.%s' % (module, name)
            target = _targets(full)
            if target is None:
                known = any(key.startswith(module + '.') for key in _TABLE)
                problems.append(Problem(path, line, _gone(
                    full if known else module)))
                groups.setdefault(module, []).append((name, alias))
                continue
            package, _, leaf = target[0][0].rpartition('.')
            groups.setdefault(package, []).append(
                (leaf, alias if alias is not None else
                 (name if leaf != name else None)))
        if list(groups) == [module]:
            if not names:
                problems.append(Problem(path, line, _gone(module)))
            return text[match.start():end], end
        return '\n'.join(_format_from(indent, package, items)
                         for package, items in groups.items()), end
    targets, check_names = found
    groups = {}
    for name, alias in names:
        if name == '*' or not check_names:
            groups.setdefault(targets[0], []).append((name, alias))
            continue
        for target in targets:
            if _has_name(target, name):
                break
        else:
            target = targets[0]     # check_source reports it
        groups.setdefault(target, []).append((name, alias))
    return '\n'.join(_format_from(indent, target, items)
                     for target, items in groups.items()), end


def _port_import(text, match, path, problems, renames):
    """-> replacement:str for one `import ...` statement, or None"""
    rest = match.group('rest').rstrip()
    if rest.startswith('(') or rest.endswith('\\'):
        return None
    items = []
    changed = False
    for item in rest.split(','):
        parts = item.split()
        if not parts:
            return None
        name = parts[0]
        alias = parts[2] if len(parts) == 3 and parts[1] == 'as' else None
        if not _QP_MODULE.match(name):
            items.append(item.strip())
            continue
        target = map_module(name)
        if target is None:
            problems.append(Problem(path, _line_of(text, match.start()),
                                    _gone(name)))
            items.append(item.strip())
            continue
        changed = True
        if alias is not None:
            items.append('%s as %s' % (target, alias))
        elif '.' not in name:           # import qpy
            items.append('%s as %s' % (target, name))
        else:
            items.append(target)
            renames[name] = target
    if not changed:
        return None
    return match.group('indent') + 'import ' + ', '.join(items)


def _drop_compile_qpy_files(text, counts):
    """(text:str, counts:Counter) -> str: QP's compile_qpy_files import and
    call removed (qpd's import hook compiles .qpy); an indented call
    becomes `pass`, so its block stays a block."""
    def call(match):
        counts['compile_qpy_files dropped'] += 1
        indent = match.group('indent')
        return indent + 'pass  # qpd compiles .qpy on import\n' if indent \
            else ''
    text, dropped = _COMPILE_IMPORT.subn('', text)
    if dropped:
        counts['compile_qpy_files dropped'] += dropped
    return _COMPILE_CALL.sub(call, text)


def port_imports(text, path='<source>', counts=None):
    """(text:str, path:str='<source>', counts:Counter=None) -> (str, [Problem])
    text with its QP imports rewritten (and QP's compile_qpy_files
    dropped), and what could not be mapped.
    """
    counts = collections.Counter() if counts is None else counts
    text = _drop_compile_qpy_files(text, counts)
    problems = []
    renames = {}
    out = []
    position = 0
    for match in sorted(list(_FROM.finditer(text)) +
                        list(_IMPORT.finditer(text)),
                        key=lambda m: m.start()):
        if match.start() < position:
            continue
        if match.re is _FROM:
            replacement, end = _port_from(text, match, path, problems)
        else:
            replacement = _port_import(text, match, path, problems, renames)
            end = match.end()
            if replacement is None:
                continue
        if replacement != text[match.start():end]:
            counts['QP imports mapped'] += 1
        out.append(text[position:match.start()])
        out.append(replacement)
        position = end
    out.append(text[position:])
    result = ''.join(out)
    for old in sorted(renames, key=len, reverse=True):
        result = re.sub(r'(?<![\w.])%s(?=\.)' % re.escape(old), renames[old],
                        result)
    return result, problems


# Step 5: checks -------------------------------------------------------------

DIGEST_NOTE = (
    'signs in with HTTP Digest, which works on qpd for users whose password '
    "is set on qpd (qpd shell NAME -c \"create_user('ann', 'PASSWORD')\", "
    'User.set_password): qpd then keeps the MD5 and SHA-256 digests Digest '
    "needs for the site's realm (key http_digests; http_digests=False "
    'stops that, and Digest sign-in then fails); users brought over by qpd '
    "migrate set their password again (QP's MD5 digests are kept aside, "
    'never accepted); Digest is answered on https only '
    '(as_https_address behind a TLS front end, or https_address)')


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError,
            RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _configuration_items(tree):
    """(tree:ast.Module) -> iter((key:str, value node, line:int, item)):
    the items of each class's `configuration = dict(...)` or `{...}`;
    item is the keyword (dict(...)) or the key's Constant ({...}), whose
    position is where the key is written."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if not (isinstance(statement, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == 'configuration'
                    for t in statement.targets)):
                continue
            value = statement.value
            if (isinstance(value, ast.Call) and
                    isinstance(value.func, ast.Name) and
                    value.func.id == 'dict'):
                for keyword in value.keywords:
                    if keyword.arg is not None:
                        yield (keyword.arg, keyword.value,
                               keyword.value.lineno, keyword)
            elif isinstance(value, ast.Dict):
                for key, item in zip(value.keys, value.values):
                    if (isinstance(key, ast.Constant) and
                            isinstance(key.value, str)):
                        yield key.value, item, key.lineno, key


def _check_key(path, site_name, key, value_node, line, keys=()):
    """-> Problem | None for one configuration item (keys: all the keys
    of its configuration)"""
    if key.startswith(config.SITE_PREFIX):
        return None
    if key not in config.SCHEMA:
        close = near_miss(key)
        if close:
            text = ('configuration key %r is not a qpd key but looks like '
                    "qpd's %s, so qpd would refuse to start the site: "
                    'write %s if it sets that, or, if it is the site\'s own '
                    'key, %s%s here and where the site reads it' % (
                        key, close, close, config.SITE_PREFIX, key))
        else:
            text = ('configuration key %r is not a qpd key, so qpd would '
                    'refuse to start the site: if it is the site\'s own, '
                    'rename it %s%s here and where the site reads it' % (
                        key, config.SITE_PREFIX, key))
        problem = Problem(path, line, text)
        problem.key = key
        return problem
    value = _literal(value_node)
    if value is _NOT_LITERAL:
        return None
    try:
        value = config.check_value(site_name, key, value)
    except config.ConfigurationError as error:
        return Problem(path, line, 'configuration %s: %s' % (key, error))
    if (key in ('scgi_address', 'as_https_address') and
            isinstance(value, tuple) and not is_loopback(value) and
            'front_end_beyond_loopback' not in keys):
        return Problem(path, line, (
            '%s %r is beyond loopback, which qpd refuses (whoever reaches '
            "it could name the client's address and https): write "
            "('127.0.0.1', %d), or set front_end_beyond_loopback=True when "
            'a firewall lets only the front end in' % (
                key, tuple(value), value[1])))
    if (key == 'http_address' and isinstance(value, tuple) and
            value[0] in ('', '0.0.0.0', '::')):
        return Problem(path, line, (
            '%s %r listens on every interface, as in QP: write '
            "('127.0.0.1', %d) to answer this machine only (behind a "
            'front end)' % (key, tuple(value), value[1])),
            left=False)
    if key == 'durus_address' and isinstance(value, tuple):
        if 'durus_tls' in keys:
            return None
        if 'durus_allow_insecure_plain_tcp' in keys:
            return Problem(path, line, (
                'durus_address %s is plain TCP, which qpd takes only because '
                'durus_allow_insecure_plain_tcp is set: whoever reaches it '
                'can run code as the site\'s user; drop both keys for a '
                'unix socket, or set durus_tls=True'
                % value_node_text(value)), left=False)
        if is_loopback(value):
            return Problem(path, line, (
                'durus_address %s is plain TCP, which qpd refuses: drop the '
                'key (qpd then uses a unix socket, var/durus.sock) or set '
                'durus_tls=True (qpd certs NAME)' % value_node_text(value)))
        return Problem(path, line, (
            'durus_address %s is plain TCP beyond this machine, which qpd '
            'refuses: set durus_tls=True (qpd certs NAME), or drop the key '
            'for a unix socket' % value_node_text(value)))
    return None


def value_node_text(value):
    return '%s:%s' % value if isinstance(value, tuple) else str(value)


def check_source(text, path='<source>', site_name='site'):
    """(text:str, path:str='<source>', site_name:str='site') -> [Problem]
    What port reports about Python 3 source (a .qpy file masked): Digest
    sign-in, configuration keys and values qpd refuses or treats
    differently, `string` functions Python 3 lacks.
    """
    try:
        tree = ast.parse(text, path)
    except SyntaxError as error:
        return [Problem(path, error.lineno or 0, (
            'is not Python 3 after conversion (%s): fix that line and run '
            'qpd port again' % error.msg))]
    problems = []
    imports_string = any(
        isinstance(node, ast.Import) and
        any(alias.name == 'string' and alias.asname is None
            for alias in node.names) for node in ast.walk(tree))
    for node in ast.walk(tree):
        if (isinstance(node, ast.ImportFrom) and node.module and
                node.module.startswith('qpd.') and
                not node.module.startswith(QPD_SITES + '.')):
            for alias in node.names:
                if alias.name != '*' and not _has_name(node.module,
                                                       alias.name):
                    problems.append(Problem(path, node.lineno, (
                        '%s has no %s: write it with the names qpd has '
                        '(docs/qp_api.md)' % (node.module, alias.name))))
        elif (isinstance(node, ast.Attribute) and
                node.attr == 'ensure_signed_in_using_digest'):
            problems.append(Problem(path, node.lineno, DIGEST_NOTE,
                                    left=False))
        elif (imports_string and isinstance(node, ast.Attribute) and
                isinstance(node.value, ast.Name) and
                node.value.id == 'string' and
                not hasattr(string_module, node.attr)):
            problems.append(Problem(path, node.lineno, (
                'string.%s is not in Python 3: write the str method (or '
                'builtin) that does it' % node.attr)))
    items = list(_configuration_items(tree))
    keys = {item[0] for item in items}
    for key, value, line, item in items:
        problem = _check_key(path, site_name, key, value, line, keys)
        if problem is not None:
            problems.append(problem)
    problems.sort(key=lambda p: p.line)
    return problems


# Step 4: the configuration (runs before the checks of step 5) ---------

# A key this close to one of qpd's (difflib's ratio) is taken for a typo of
# it, not for the site's own key: port then leaves it to the porter.
NEAR_MISS = 0.8

_TRAILING_ITEM = re.compile(r'[ \t]*,?[ \t]*(?:#[^\n]*)?$')


def near_miss(key):
    """(key:str) -> str | None: the qpd key that key looks like a typo of"""
    close = difflib.get_close_matches(key, list(config.SCHEMA), n=1,
                                      cutoff=NEAR_MISS)
    return close[0] if close else None


def _char_offset(starts, lines, line, byte_column):
    """The offset in the text of ast's (line, byte column)."""
    prefix = lines[line - 1].encode('utf-8')[:byte_column]
    return starts[line - 1] + len(prefix.decode('utf-8', 'replace'))


def _drop_durus_address(text, lines, starts, item, value):
    """-> (start, end, replacement) commenting out item, or None when item
    does not have its lines to itself."""
    first, last = item.lineno, value.end_lineno
    start = _char_offset(starts, lines, first, item.col_offset)
    indent = text[starts[first - 1]:start]
    after = text[_char_offset(starts, lines, last, value.end_col_offset):
                 starts[last]]
    if indent.strip() or not _TRAILING_ITEM.match(after.rstrip('\n')):
        return None
    block = ''.join(indent + '# ' + lines[n - 1][len(indent):]
                    for n in range(first, last + 1))
    return (starts[first - 1], starts[last], (
        "%s# qpd port: qpd's default, a unix socket (var/durus.sock)\n%s"
        % (indent, block)))


def port_configuration(text, path='<source>', counts=None, site_keys=None):
    """(text:str, path:str='<source>', counts:Counter=None,
        site_keys:set=None) -> (str, [Problem])
    The `configuration` of text's classes made one qpd starts with:
    - a site's own key (one qpd lacks, not a near miss of one of qpd's)
      renamed with the `site_` prefix (`greeting` -> `site_greeting`),
      its name added to site_keys so that its reads are renamed too
      (rename_key_reads);
    - a plain-TCP durus_address on loopback, which qpd refuses, commented
      out (qpd's default is a unix socket in the site's var/ directory),
      unless the configuration sets durus_tls or
      durus_allow_insecure_plain_tcp.
    Each change is reported as a note; what it cannot change check_source
    reports. text is Python 3 (a .qpy one masked); one that does not parse
    is returned as it is.
    """
    counts = collections.Counter() if counts is None else counts
    site_keys = set() if site_keys is None else site_keys
    try:
        tree = ast.parse(text, path)
    except SyntaxError:
        return text, []
    lines = text.splitlines(True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    items = list(_configuration_items(tree))
    keys = {key for key, value, line, item in items}
    edits = []
    problems = []
    inserted = []       # the lines before which a comment line goes
    for key, value, line, item in items:
        if key == 'durus_address':
            address = _literal(value)
            if (keys & {'durus_tls', 'durus_allow_insecure_plain_tcp'} or
                    not (isinstance(address, tuple) and len(address) == 2
                         and is_loopback(address))):
                continue
            edit = _drop_durus_address(text, lines, starts, item, value)
            if edit is None:
                continue
            edits.append(edit)
            inserted.append(item.lineno)
            counts['durus_address dropped'] += 1
            problems.append(Problem(path, line, (
                'durus_address %s is plain TCP, which qpd refuses (any '
                "local user could run code as the site's user): commented "
                'out, so the site uses a unix socket in its var/ directory; '
                'for a storage on another host set durus_address and '
                'durus_tls=True (qpd certs NAME)'
                % value_node_text(address)), left=False))
        elif (key not in config.SCHEMA and
                not key.startswith(config.SITE_PREFIX) and
                key.isidentifier() and near_miss(key) is None):
            start = _char_offset(starts, lines, item.lineno, item.col_offset)
            if isinstance(item, ast.keyword):
                end, new = start + len(key), config.SITE_PREFIX + key
            else:
                end = _char_offset(starts, lines, item.end_lineno,
                                   item.end_col_offset)
                quote = text[start]
                if text[start:end] != quote + key + quote:
                    continue        # a key written with escapes
                new = quote + config.SITE_PREFIX + key + quote
            edits.append((start, end, new))
            site_keys.add(key)
            counts['site keys renamed'] += 1
            problems.append(Problem(path, line, (
                "configuration key %r is the site's own (qpd has no such "
                "key): renamed %s%s, as qpd wants a site's own keys, and "
                "so are the site's reads of it (.get('%s'))" % (
                    key, config.SITE_PREFIX, key, key)), left=False))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    for problem in problems:        # lines of the text returned
        problem.line += sum(1 for line in inserted if line <= problem.line)
    return text, problems


def rename_key_reads(text, keys, counts=None):
    """(text:str, keys:iterable, counts:Counter=None) -> str
    Each read of a renamed key, `.get('KEY'` or `.get("KEY"` (QP's
    `get_site().get(name)`), made `.get('site_KEY'`."""
    counts = collections.Counter() if counts is None else counts
    for key in sorted(keys):
        pattern = re.compile(r'''(\.get\(\s*)(['"])%s\2(?=\s*[,)])'''
                             % re.escape(key))
        text, n = pattern.subn(
            lambda m: '%s%s%s%s%s' % (m.group(1), m.group(2),
                                      config.SITE_PREFIX, key, m.group(2)),
            text)
        counts['site key reads renamed'] += n
    return text


# The whole of it --------------------------------------------------------------

def port_source(text, path='<source>', counts=None, site_name='site',
                python3=False, site_keys=None):
    """(text:str, path:str='<source>', counts:Counter=None, site_name='site',
        python3=False, site_keys:set=None) -> (str, [Problem])
    text ported (a .qpy one when path ends so: its templates masked
    first): converted from Python 2 (unless python3: it was already), its
    QP imports mapped, its configuration made one qpd starts with
    (port_configuration; the site's own keys it renames are added to
    site_keys, and their reads in text renamed), then checked. counts gets
    what was converted (per fissix fixer, 'QP imports mapped',
    'compile_qpy_files dropped', ...).
    """
    counts = collections.Counter() if counts is None else counts
    site_keys = set() if site_keys is None else site_keys
    markers = None
    if path.endswith('.qpy'):
        try:
            text, markers = mask_templates(text)
        except fissix_tokenize.TokenError as error:
            return text, [Problem(path, error.args[1][0], (
                'cannot be tokenized (%s): fix it and run qpd port again'
                % error.args[0]))]
    problems = []
    try:
        converted, fixes = ((text, {}) if python3 else
                            convert_python2(text, path))
        counts.update(fixes)
    except SyntaxError as error:
        converted = text
        problems.append(Problem(path, error.lineno, (
            'is neither Python 2 nor 3 here (%s), so nothing in the file '
            'was converted: fix the line and run qpd port again'
            % error.msg)))
    ported, found = port_imports(converted, path, counts)
    if not problems:
        mine = set()
        ported, changes = port_configuration(ported, path, counts, mine)
        ported = rename_key_reads(ported, mine, counts)
        site_keys.update(mine)
        problems.extend(changes)
        problems.extend(check_source(ported, path, site_name))
    problems.extend(found)
    problems.sort(key=lambda p: p.line)
    if markers is not None:
        ported = unmask_templates(ported, markers)
    return ported, problems


def _read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def _was_ported(path, backup_suffix=ORIGINAL_SUFFIX):
    """A file with its original kept was ported before: it is Python 3
    already, and is not converted again (fissix's dict fixer, for one,
    would wrap each `for k in d.items()` in list() once more on every
    run), so a second run changes nothing."""
    return os.path.exists(path + backup_suffix)


def _write(path, text, ported, diff, output, backup_suffix=ORIGINAL_SUFFIX):
    """Write ported over path (its original kept as path + suffix, the
    first one), or with diff, the unified diff of that change to output;
    nothing when ported is text."""
    if ported == text:
        return
    if diff:
        (output or sys.stdout).writelines(difflib.unified_diff(
            text.splitlines(True), ported.splitlines(True),
            path, path + ' (qpd)'))
        return
    mode = os.stat(path).st_mode & 0o7777
    if os.path.exists(path + backup_suffix):
        os.remove(path)     # the first original is the one kept
    else:
        os.replace(path, path + backup_suffix)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode),
              'w', encoding='utf-8') as f:
        f.write(ported)


def port_file(path, diff=False, output=None, backup_suffix=ORIGINAL_SUFFIX,
              counts=None, site_name='site'):
    """(path:str, diff=False, output:file=None, backup_suffix='.qp-orig',
        counts:Counter=None, site_name='site') -> (bool, [Problem])
    Port one file: in place (keeping the original as path + suffix) when
    something changed, or, with diff, write the unified diff of that change
    to output. Whether the file changed (or would), and what port reports
    about it. A file ported before is not converted from Python 2 again.
    """
    text = _read(path)
    ported, problems = port_source(
        text, path, counts, site_name,
        python3=_was_ported(path, backup_suffix))
    _write(path, text, ported, diff, output, backup_suffix)
    return ported != text, problems


def _site_files(directory):
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if not d.startswith('.') and d != '__pycache__')
        for name in sorted(files):
            if name.endswith(('.py', '.qpy')):
                yield os.path.join(root, name)


_READ_KEY = r'''\.get\(\s*(?:%s)\s*[,)]'''


def _note_key_reads(problems, paths):
    """Name, in each unknown-key problem, the lines that read the key
    (`get('KEY')`), so the porter renames them together."""
    keyed = [p for p in problems if getattr(p, 'key', None)]
    if not keyed:
        return
    texts = {path: _read(path) for path in paths}
    for problem in keyed:
        key = re.escape(problem.key)
        pattern = re.compile(_READ_KEY % ("'%s'|\"%s\"" % (key, key)))
        reads = ['%s:%d' % (path, _line_of(text, m.start()))
                 for path, text in texts.items()
                 for m in pattern.finditer(text)]
        if reads:
            problem.text += ' (%s)' % ', '.join(reads)


def port_directory(directory, diff=False, output=None, counts=None):
    """(directory:str, diff=False, output:file=None, counts:Counter=None)
        -> ([str], [Problem])
    Port every .py and .qpy file below directory (hidden directories and
    __pycache__ skipped): the files that changed (or would), and what port
    reports. Every file is ported before any is written, so that a site's
    own configuration key renamed in one file is renamed where the others
    read it.
    """
    if not os.path.isdir(directory):
        raise OperationError('qpd port: %s is not a directory: name the '
                             "QP site's package directory" % directory)
    counts = collections.Counter() if counts is None else counts
    site_name = os.path.basename(os.path.abspath(directory))
    problems = []
    site_keys = set()
    files = []
    for path in _site_files(directory):
        text = _read(path)
        ported, found = port_source(text, path, counts, site_name,
                                    python3=_was_ported(path),
                                    site_keys=site_keys)
        problems.extend(found)
        files.append((path, text, ported))
    changed = []
    for path, text, ported in files:
        ported = rename_key_reads(ported, site_keys, counts)
        _write(path, text, ported, diff, output)
        if ported != text:
            changed.append(path)
    _note_key_reads(problems, [path for path, text, ported in files])
    return changed, problems


def format_counts(counts):
    """(counts:Counter) -> str: `QP imports mapped 3, print 2, ...`"""
    return ', '.join('%s %d' % (name, counts[name])
                     for name in sorted(counts) if counts[name]) or 'nothing'


def main(directory, diff=False, stdout=None, stderr=None):
    """(directory:str, diff=False, stdout=None, stderr=None) -> int
    `qpd port`: 0 unless something was left for a person (then 1); notes
    (what works differently) are listed but do not fail.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    counts = collections.Counter()
    changed, problems = port_directory(directory, diff=diff, output=stdout,
                                       counts=counts)
    if not diff:
        for path in changed:
            stdout.write('ported %s (original in %s%s)\n'
                         % (path, path, ORIGINAL_SUFFIX))
    left = [p for p in problems if p.left]
    for problem in left + [p for p in problems if not p.left]:
        stderr.write('%s\n' % problem)
    stderr.write('qpd port: %d file(s) %s; converted: %s; %d note(s), %d '
                 'line(s) left to edit by hand\n' % (
                     len(changed), 'to change' if diff else 'changed',
                     format_counts(counts), len(problems) - len(left),
                     len(left)))
    return 1 if left else 0


if __name__ == '__main__':
    if sys.argv[1:] == ['--markdown']:
        sys.stdout.write(render_markdown())
        sys.exit(0)
    sys.stderr.write('usage: python -m qpd.ops.port --markdown\n')
    sys.exit(2)
