"""Imports go one way through qpd's layers (docs/internals.md, "Layers").

Every `import` and `from ... import` in qpd/ (at module top or inside a
function) is read with ast; an import of a module in a higher layer than
the importing module's fails this test, naming both and the line.
"""

import ast
import os

import qpd

# Lowest first. A module belongs to the first prefix that matches it.
LAYERS = [
    ('lib', ('qpd.lib',)),
    ('qpy', ('qpd.qpy',)),
    ('config', ('qpd.config',)),
    ('metrics', ('qpd.metrics',)),
    ('storage', ('qpd.storage',)),
    ('site', ('qpd.site',)),
    ('web', ('qpd.web',)),
    ('sites', ('qpd.sites', 'qpd.proto')),
    ('server', ('qpd.server',)),
    ('ops', ('qpd.ops',)),
    ('cli', ('qpd.cli', 'qpd.__main__')),
]

# The qpd.sites package itself is the site layer's: Site points its
# __path__ at a home's sites/ directory. The site packages under it are
# applications, above the framework.
# The package's own __init__ installs the .qpy import hook: qpy's layer.
EXACT = {'qpd.sites': 'site', 'qpd': 'qpy'}

PACKAGE_DIR = os.path.dirname(qpd.__file__)
PROTO_DIR = os.path.join(os.path.dirname(PACKAGE_DIR), 'proto')


def layer_of(module):
    """(module:str) -> int | None: the index of module's layer."""
    if module in EXACT:
        return [name for name, _ in LAYERS].index(EXACT[module])
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + '.'):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def iter_modules():
    """() -> iter((module:str, path:str))"""
    for root, package, base in ((PACKAGE_DIR, 'qpd', PACKAGE_DIR),
                                (PROTO_DIR, 'qpd.proto', PROTO_DIR)):
        for directory, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            for filename in filenames:
                if not filename.endswith('.py'):
                    continue
                relative = os.path.relpath(
                    os.path.join(directory, filename), base)[:-3]
                parts = [p for p in relative.split(os.sep) if p]
                if parts[-1] == '__init__':
                    parts.pop()
                yield '.'.join([package] + parts), os.path.join(
                    directory, filename)


def iter_imports(module, path):
    """(module:str, path:str) -> iter((imported:str, line:int))"""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith('__init__.py')
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split('.')
                if not is_package:
                    base = base[:-1]
                base = base[:len(base) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield name, node.lineno
            for alias in node.names:
                yield name + '.' + alias.name, node.lineno


def find_violations():
    """() -> [str]"""
    problems = []
    for module, path in iter_modules():
        own = layer_of(module)
        for imported, line in iter_imports(module, path):
            if not imported.startswith('qpd'):
                continue
            other = layer_of(imported)
            if other is not None and own is not None and other > own:
                problems.append('%s:%d: %s (%s) imports %s (%s)' % (
                    os.path.relpath(path, os.path.dirname(PACKAGE_DIR)),
                    line, module, LAYERS[own][0], imported,
                    LAYERS[other][0]))
    return sorted(set(problems))


def test_every_module_has_a_layer():
    missing = [module for module, _ in iter_modules()
               if layer_of(module) is None]
    assert not missing, 'modules in no layer (add them to LAYERS and to ' \
        'docs/internals.md): %s' % missing


def test_layer_of():
    assert LAYERS[layer_of('qpd.lib.mail.send')][0] == 'lib'
    assert LAYERS[layer_of('qpd.site')][0] == 'site'
    assert LAYERS[layer_of('qpd.sites.hello.slash')][0] == 'sites'
    assert LAYERS[layer_of('qpd')][0] == 'qpy'
    assert LAYERS[layer_of('qpd.server.worker')][0] == 'server'


def test_imports_go_one_way():
    problems = find_violations()
    assert not problems, 'imports against the layers:\n' + '\n'.join(
        problems)


def test_nothing_in_web_imports_server():
    for module, path in iter_modules():
        if module.startswith('qpd.web'):
            for imported, line in iter_imports(module, path):
                assert not imported.startswith('qpd.server'), (path, line)


def find_circles():
    """() -> [[str]]: each set of qpd modules that import one another in a
    circle (strongly connected, Tarjan), as a sorted list. An import
    names the longest qpd module its dotted name starts with (`from
    qpd.ops import commands` imports qpd.ops.commands), and counts
    wherever it stands: at the top or inside a function."""
    paths = dict(iter_modules())

    def module_of(name):
        while name and name not in paths:
            name = name.rpartition('.')[0]
        return name or None

    graph = {module: set() for module in paths}
    for module, path in paths.items():
        for imported, _ in iter_imports(module, path):
            target = module_of(imported) if imported.startswith('qpd') \
                else None
            # A module's own package (`from qpd.ops import x` in
            # qpd.ops.y names qpd.ops) is no edge: its __init__ has run
            # before the module anyway.
            if target and target != module and not (
                    module.startswith(target + '.')):
                graph[module].add(target)
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(circles)


def test_no_import_circle():
    circles = find_circles()
    assert not circles, 'modules that import one another in a circle ' \
        '(move what both need to a lower module):\n' + '\n'.join(
            ' <-> '.join(circle) for circle in circles)
