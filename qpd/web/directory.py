"""qpd.web.directory: Directory, a node of a site's URL space.

A path such as /a/b/ is split into components ['a', 'b', ''] and walked
from the root Directory: each component is looked up among the directory's
exports (or handed to _q_lookup); the last one reached is called with no
arguments and what it returns is the page (None, as in QP, is a 404).
Nothing that is not exported is reachable by URL. A directory reached as
the last component is called too: Directory.__call__ redirects (301) to
the slashed URL when it has an index and no fields came, else gives None.

QP's crumb helpers read the directories being traversed from the call
stack: `get_directory_path()`, `get_path_directory_list()` and
`get_crumb_tree()` (qpd's own `Directory.get_crumbs` takes the path).
"""

import inspect
from urllib.parse import quote

from qpd.web.common import find_request
from qpd.web.errors import MethodNotAllowed, NotFound, Redirect

__all__ = ['Directory', 'split_path', 'get_directory_path',
           'get_path_directory_list', 'get_crumb_tree']


def split_path(path_info):
    """(path_info:str) -> list[str]
    The components of a path below the script name: '/a/b/' gives
    ['a', 'b', ''], '/' gives [''], and '' gives [].
    """
    if not path_info:
        return []
    return path_info[1:].split('/') if path_info[0] == '/' else path_info.split('/')


def _get_current_request():
    """() -> HTTPRequest | None: the current request, None outside a hit."""
    return find_request()


def _get_query():
    """() -> str
    The query string of the current request, or '' when there is none.
    """
    request = _get_current_request()
    if request is None:
        return ''
    return request.get_query()


class Directory:
    """()
    A node of the URL space. Export components by overriding get_exports()
    or, Quixote style, by listing them in _q_exports.
    """

    _q_exports = []
    # The methods the pages of this directory answer; another method
    # (TRACE, PUT, PROPFIND...) gets 405 with an Allow header. HEAD is
    # answered like GET, without the body.
    allowed_methods = ('GET', 'HEAD', 'POST')

    def _q_check_method(self):
        """()
        Raise MethodNotAllowed when the current request's method is not
        one of allowed_methods.
        """
        request = _get_current_request()
        if request is None:
            return
        if request.get_method() not in self.allowed_methods:
            raise MethodNotAllowed(
                'This page does not answer %s.' % request.get_method(),
                headers=[('Allow', ', '.join(self.allowed_methods))])

    def get_exports(self):
        """() -> iterator of (component:str, attribute:str, crumb:str | None, title:str | None)
        The components this directory answers: the URL component, the name
        of the attribute that serves it, the text of its breadcrumb (None
        for none) and a title for links to it. '' is the index. The default
        reads _q_exports, whose entries are component names (which are also
        the attribute names, '' standing for '_q_index') or
        (component, attribute) pairs.
        """
        for entry in self._q_exports:
            if isinstance(entry, tuple):
                component, attribute = entry
            else:
                component = entry
                attribute = entry or '_q_index'
            yield component, attribute, None, None

    def _q_translate(self, component):
        """(component:str) -> str | None
        The name of the attribute exported as component, or None.
        """
        for export in self.get_exports():
            if export[0] == component:
                return export[1]
        return None

    def _q_lookup(self, component):
        """(component:str) -> object | None
        The object for a component that is not exported (None: not found).
        Override to serve dynamic components, such as ids.
        """
        return None

    def _q_access(self):
        """()
        Called before this directory handles a component; raise (NotFound,
        Forbidden, Redirect...) to refuse access to everything below it.
        """

    def _q_resolve(self, component):
        """(component:str) -> object
        The object component names here: the exported attribute, else what
        _q_lookup gives; NotFound when neither has it.
        """
        attribute = self._q_translate(component)
        if attribute is not None:
            target = getattr(self, attribute, None)
        else:
            target = self._q_lookup(component)
        if target is None:
            raise NotFound()
        return target

    def _q_traverse(self, components):
        """(components:list[str]) -> object
        Walk components from here and return what the callable reached
        returns (a str, xml, bytes...). A directory reached without its
        trailing slash is called (see __call__); a component that is not
        exported (and that _q_lookup does not know), or a callable that
        returns None, raises NotFound.
        """
        self._q_access()
        if not components:
            raise Redirect(self._slash_location(None))
        component = components[0]
        target = self._q_resolve(component)
        rest = components[1:]
        if rest:
            if hasattr(target, '_q_traverse'):
                return target._q_traverse(rest)
            raise NotFound()
        self._q_check_method()
        if (isinstance(target, Directory) and
                type(target).__call__ is Directory.__call__):
            target = target._q_reached(component)
        elif callable(target):
            target = target()
        if target is None:
            raise NotFound()
        return target

    def __call__(self):
        """() -> None
        This directory reached as the last component (its URL lacks the
        trailing slash): as in QP a 301 to the slashed URL when it exports
        '' and no fields came (a query string or a form body), else None
        (not found).
        """
        return self._q_reached(None)

    def _q_reached(self, component):
        """(component:str | None) -> None
        __call__, knowing the component this directory was reached as.
        """
        if self._q_translate('') is None:
            return None
        request = _get_current_request()
        if request is not None and request.get_fields():
            return None
        raise Redirect(self._slash_location(component), True)

    def _slash_location(self, component):
        """(component:str | None) -> str
        The relative location of a directory reached as component (or, for
        None, reached at the end of the request path), with its trailing
        slash and the query string kept.
        """
        if component is None:
            request = _get_current_request()
            path = request.get_path() if request is not None else ''
            component = path.rsplit('/', 1)[-1]
        if component.strip('.') == '':
            location = component.replace('.', '%2E') + '/'
        else:
            location = quote(component, safe="!$&'()*+,;=@-._~") + '/'
        query = _get_query()
        if query:
            location += '?' + query
        return location

    def get_crumbs(self, components, prefix=''):
        """(components:list[str], prefix:str='') -> list[(str, str, str | None)]
        The breadcrumb trail of a path: (url path, crumb, title) for this
        directory's index (if its '' export has a crumb) and for each
        component with a crumb. Exported components take the crumb and
        title from get_exports(); dynamic ones use their get_crumb() and
        get_title() methods when they have them, else the component.
        prefix is the path of this directory without its trailing slash
        (the script name for the root).
        """
        crumbs = []
        directory = self
        path = prefix
        for export in self.get_exports():
            if export[0] == '' and export[2] is not None:
                crumbs.append((path + '/', export[2], export[3]))
                break
        for index, component in enumerate(components):
            if component == '' or directory is None:
                break
            export = None
            for item in directory.get_exports():
                if item[0] == component:
                    export = item
                    break
            try:
                target = directory._q_resolve(component)
            except Exception:
                break
            is_directory = hasattr(target, '_q_traverse')
            path = path + '/' + quote(component, safe="!$&'()*+,;=:@-._~")
            url = path + '/' if is_directory else path
            if export is not None:
                crumb, title = export[2], export[3]
            else:
                crumb = _call(target, 'get_crumb', component)
                title = _call(target, 'get_title', None)
            if crumb is not None:
                crumbs.append((url, crumb, title))
            directory = target if is_directory else None
        return crumbs


def _call(target, name, default):
    method = getattr(target, name, None)
    if method is None:
        return default
    return method()


def get_directory_path():
    """() -> list[Directory]
    The directories whose _q_traverse is running, the root first (read
    from the call stack, as in QP).
    """
    directories = []
    frame = inspect.currentframe()
    try:
        while frame is not None:
            if frame.f_code.co_name == '_q_traverse':
                candidate = frame.f_locals.get('self')
                if (isinstance(candidate, Directory) and
                        not any(candidate is d for d in directories)):
                    directories.append(candidate)
            frame = frame.f_back
    finally:
        del frame
    directories.reverse()
    return directories


def get_path_directory_list():
    """() -> list[(str, Directory)]
    (relative URL, directory) for each directory being traversed, the root
    first: the last one is './', the one above it '../', and so on.
    """
    directories = get_directory_path()
    count = len(directories)
    return [('../' * (count - 1 - index) or './', directory)
            for index, directory in enumerate(directories)]


def get_crumb_tree():
    """() -> list[list[(str, str, str | None)]]
    One menu per directory being traversed, the root first: (relative URL,
    crumb, title) for each of its exports that has a crumb.
    """
    tree = []
    for path, directory in get_path_directory_list():
        menu = []
        for component, attribute, crumb, title in directory.get_exports():
            if crumb is not None:
                menu.append((path + component, crumb, title))
        tree.append(menu)
    return tree
