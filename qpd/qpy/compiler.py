"""Compiles .qpy source into a Python code object.

A .qpy file is Python in which `def name:xml(...)` and `def name:str(...)`
define templates; QP's older spellings `def name [html] (...)` and
`def name [plain] (...)` mean the same and are accepted too.
Compilation has three steps:

1. `find_templates` blanks each `:xml` / `:str` (or `[html]` / `[plain]`)
   marker out of the source
   with spaces (so every other character keeps its line and column, and
   tracebacks and syntax errors point at the .qpy text) and notes which
   functions were marked.
2. The source is parsed with `ast`, and `TemplateTransformer` rewrites the
   body of each template: the value of every expression statement is
   appended to a local list (literals as they are; other values quoted in
   xml templates, converted with str() in str templates; None skipped), and
   the function returns the list joined (as xml or str). In an xml template
   every other string literal becomes a trusted xml constant and every
   f-string quotes its interpolated values.
3. The tree is compiled with the .qpy file name.
"""

import ast
import io
import tokenize

__all__ = ['compile_qpy', 'get_code', 'parse_qpy', 'find_templates',
           'TemplateTransformer']

KINDS = ('xml', 'str')

# QP's 2005 spelling: `def name [html] (...)`, `def name [plain] (...)`.
BRACKET_KINDS = {'html': 'xml', 'plain': 'str'}

_RUNTIME_NAMES = (
    ('xml', '_qpy_xml'),
    ('quote_item', '_qpy_quote_item'),
    ('text_item', '_qpy_text_item'),
    ('markup_text', '_qpy_markup_text'),
    ('quote_text', '_qpy_quote_text'),
    ('join_markup', '_qpy_join_markup'),
    ('join_text', '_qpy_join_text'),
)


def find_templates(source: str):
    """(source:str) -> (str, dict[(int, str), str])
    The source with every template marker (`:xml` or `:str`, or QP's
    `[html]` or `[plain]`, right after `def name`) replaced by spaces, and a map from (line of the def, function
    name) to the template kind. Raises SyntaxError when the source cannot be
    tokenized.
    """
    lines = io.StringIO(source).readlines()
    tokens = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type not in (tokenize.NL, tokenize.COMMENT):
                tokens.append(token)
    except tokenize.TokenError as error:
        # The parser, run on the source blanked so far, explains it better.
        ast.parse(''.join(_blank_markers(lines, tokens)[0]))
        message, (row, column) = error.args
        raise SyntaxError(message, (None, row, column + 1, None)) from None
    lines, kinds = _blank_markers(lines, tokens)
    return ''.join(lines), kinds


def _blank_markers(lines, tokens):
    """(lines:list[str], tokens:list[TokenInfo]) -> (list[str], dict)"""
    lines = list(lines)
    kinds = {}
    for index in range(len(tokens) - 4):
        keyword, name, colon, kind, paren = tokens[index:index + 5]
        if (keyword.type == tokenize.NAME and keyword.string == 'def'
                and name.type == tokenize.NAME
                and colon.type == tokenize.OP and colon.string == ':'
                and kind.type == tokenize.NAME and kind.string in KINDS
                and paren.type == tokenize.OP and paren.string == '('):
            kinds[(keyword.start[0], name.string)] = kind.string
            _blank(lines, (colon, kind))
        elif (index + 5 < len(tokens)
                and keyword.type == tokenize.NAME and keyword.string == 'def'
                and name.type == tokenize.NAME
                and colon.type == tokenize.OP and colon.string == '['
                and kind.type == tokenize.NAME and kind.string in BRACKET_KINDS
                and paren.type == tokenize.OP and paren.string == ']'
                and tokens[index + 5].type == tokenize.OP
                and tokens[index + 5].string == '('):
            kinds[(keyword.start[0], name.string)] = BRACKET_KINDS[kind.string]
            _blank(lines, (colon, kind, paren))
    return lines, kinds


def _blank(lines, tokens):
    """Replace the text of tokens (each on one line) by spaces."""
    for token in tokens:
        (row, start), (_, end) = token.start, token.end
        line = lines[row - 1]
        lines[row - 1] = line[:start] + ' ' * (end - start) + line[end:]


def _name(identifier, node):
    return ast.copy_location(ast.Name(id=identifier, ctx=ast.Load()), node)


def _call(function, argument, node):
    return ast.copy_location(
        ast.Call(func=_name(function, node), args=[argument], keywords=[]), node)


class TemplateTransformer(ast.NodeTransformer):
    """(kinds:dict[(int, str), str])
    Rewrites the functions named in kinds (as find_templates returns it)
    into templates. `constants` collects the xml literals to define at the
    top of the module, as {value: global name}.
    """

    def __init__(self, kinds):
        self.kinds = dict(kinds)
        self.kind = None  # the kind of the template whose body is being visited
        self.constants = {}

    def _visit_list(self, nodes):
        result = []
        for node in nodes:
            new = self.visit(node)
            if new is None:
                continue
            if isinstance(new, list):
                result.extend(new)
            else:
                result.append(new)
        return result

    def _visit_scope(self, node, kind):
        """Visit node's body as a scope of the given kind (None for Python)."""
        outer, self.kind = self.kind, kind
        node.body = self._visit_list(node.body)
        self.kind = outer

    def visit_FunctionDef(self, node):
        node.decorator_list = self._visit_list(node.decorator_list)
        node.args = self.visit(node.args)
        if node.returns is not None:
            node.returns = self.visit(node.returns)
        kind = self.kinds.pop((node.lineno, node.name), None)
        self._visit_scope(node, kind)
        if kind is not None:
            self._make_template(node, kind)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        node.decorator_list = self._visit_list(node.decorator_list)
        node.bases = self._visit_list(node.bases)
        node.keywords = self._visit_list(node.keywords)
        self._visit_scope(node, None)
        return node

    def _make_template(self, node, kind):
        join = '_qpy_join_markup' if kind == 'xml' else '_qpy_join_text'
        first = node.body[0]
        setup = [
            ast.Assign(targets=[ast.Name(id='_qpy_parts', ctx=ast.Store())],
                       value=ast.List(elts=[], ctx=ast.Load())),
            ast.Assign(targets=[ast.Name(id='_qpy_append', ctx=ast.Store())],
                       value=ast.Attribute(value=_name('_qpy_parts', first),
                                           attr='append', ctx=ast.Load())),
        ]
        for statement in setup:
            ast.copy_location(statement, first)
        last = node.body[-1]
        finish = ast.Return(value=_call(join, _name('_qpy_parts', last), last))
        ast.copy_location(finish, last)
        finish.lineno = finish.end_lineno = last.end_lineno
        finish.col_offset = last.col_offset
        node.body = setup + node.body + [finish]

    def visit_Return(self, node):
        if self.kind is not None and node.value is None:
            join = '_qpy_join_markup' if self.kind == 'xml' else '_qpy_join_text'
            node.value = _call(join, _name('_qpy_parts', node), node)
            return node
        return self.generic_visit(node)

    def visit_Expr(self, node):
        value = node.value
        if self.kind is None or isinstance(value, (ast.Yield, ast.YieldFrom)):
            return self.generic_visit(node)
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            item = value
        elif isinstance(value, ast.JoinedStr):
            item = self._quote_fstring(value) if self.kind == 'xml' else self.visit(value)
        else:
            convert = '_qpy_quote_item' if self.kind == 'xml' else '_qpy_text_item'
            item = _call(convert, self.visit(value), value)
        node.value = _call('_qpy_append', item, value)
        return node

    def visit_Constant(self, node):
        if self.kind == 'xml' and type(node.value) is str:
            name = self.constants.get(node.value)
            if name is None:
                name = self.constants[node.value] = '_qpy_c%d' % len(self.constants)
            return _name(name, node)
        return node

    def visit_JoinedStr(self, node):
        if self.kind == 'xml':
            return _call('_qpy_xml', self._quote_fstring(node), node)
        return self.generic_visit(node)

    def _quote_fstring(self, node):
        """An f-string whose literal parts stay and whose values are quoted."""
        values = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                value = self.visit(part.value)
                if part.conversion == -1 and part.format_spec is None:
                    part.value = _call('_qpy_markup_text', value, value)
                else:
                    part.value = value
                    formatted = ast.copy_location(ast.JoinedStr(values=[part]), part)
                    part = ast.copy_location(ast.FormattedValue(
                        value=_call('_qpy_quote_text', formatted, part),
                        conversion=-1, format_spec=None), part)
            values.append(part)
        node.values = values
        return node

    def visit_match_case(self, node):
        # Patterns must stay literal; only the guard and the body are code.
        if node.guard is not None:
            node.guard = self.visit(node.guard)
        node.body = self._visit_list(node.body)
        return node


def _prologue(constants):
    """The statements that give a module the runtime names and xml literals."""
    names = [ast.alias(name=name, asname=asname) for name, asname in _RUNTIME_NAMES]
    statements = [ast.ImportFrom(module='qpd.qpy.runtime', names=names, level=0)]
    for value, name in constants.items():
        statements.append(ast.Assign(
            targets=[ast.Name(id=name, ctx=ast.Store())],
            value=ast.Call(func=ast.Name(id='_qpy_xml', ctx=ast.Load()),
                           args=[ast.Constant(value=value)], keywords=[])))
    for statement in statements:
        statement.lineno = statement.end_lineno = 1
        statement.col_offset = statement.end_col_offset = 0
    return statements


def _prologue_index(body):
    """Where the prologue goes: after the docstring and __future__ imports."""
    index = 0
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        index = 1
    while (index < len(body) and isinstance(body[index], ast.ImportFrom)
           and body[index].module == '__future__'):
        index += 1
    return index


def parse_qpy(source: str, filename: str = '<qpy>') -> ast.Module:
    """(source:str, filename:str='<qpy>') -> ast.Module
    The transformed tree of a .qpy module. Raises SyntaxError naming
    filename and the line.
    """
    try:
        python_source, kinds = find_templates(source)
        tree = ast.parse(python_source, filename)
    except SyntaxError as error:
        error.filename = filename
        if error.lineno is not None:
            lines = source.splitlines()
            if 0 < error.lineno <= len(lines):
                error.text = lines[error.lineno - 1] + '\n'
        raise
    if not kinds:
        return tree
    transformer = TemplateTransformer(kinds)
    tree = transformer.visit(tree)
    index = _prologue_index(tree.body)
    tree.body[index:index] = _prologue(transformer.constants)
    return ast.fix_missing_locations(tree)


def compile_qpy(source, filename: str = '<qpy>', optimize: int = -1):
    """(source:str|bytes, filename:str='<qpy>', optimize:int=-1) -> code
    The code object of a .qpy module. Bytes are decoded as Python source is
    (PEP 263 coding line, else UTF-8).
    """
    if isinstance(source, bytes):
        from importlib.util import decode_source
        source = decode_source(source)
    tree = parse_qpy(source, filename)
    return compile(tree, filename, 'exec', dont_inherit=True, optimize=optimize)


def get_code(source, source_name):
    """(source:str|bytes, source_name:str) -> code
    QP's name for compile_qpy(source, source_name).
    """
    return compile_qpy(source, source_name)
