"""qpd.web.directory: Directory, a node of a site's URL space.

A path such as /a/b/ is split into components ['a', 'b', ''] and walked
from the root Directory: each component is looked up among the directory's
exports (or handed to _q_lookup); the last one reached is called with no
arguments and what it returns is the page. Nothing that is not exported is
reachable by URL.
"""

from urllib.parse import quote

from qpd.web.errors import NotFound, Redirect

__all__ = ['Directory', 'split_path']


def split_path(path_info):
    """(path_info:str) -> list[str]
    The components of a path below the script name: '/a/b/' gives
    ['a', 'b', ''], '/' gives [''], and '' gives [].
    """
    if not path_info:
        return []
    return path_info[1:].split('/') if path_info[0] == '/' else path_info.split('/')


def _get_query():
    """() -> str
    The query string of the current request, or '' when there is none
    (or no qpd.web.common to ask).
    """
    try:
        from qpd.web.common import get_request
        request = get_request()
    except Exception:
        return ''
    if request is None:
        return ''
    return request.get_query()


class Directory:
    """()
    A node of the URL space. Export components by overriding get_exports()
    or, Quixote style, by listing them in _q_exports.
    """

    _q_exports = []

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
        returns (a str, xml, bytes or None). A directory reached without
        its trailing slash raises Redirect to the slashed URL; a component
        that is not exported (and that _q_lookup does not know) raises
        NotFound.
        """
        self._q_access()
        if not components:
            raise Redirect(self._slash_location(None))
        component = components[0]
        target = self._q_resolve(component)
        rest = components[1:]
        if hasattr(target, '_q_traverse'):
            if not rest:
                raise Redirect(self._slash_location(component))
            return target._q_traverse(rest)
        if rest:
            raise NotFound()
        if callable(target):
            return target()
        return target

    def _slash_location(self, component):
        """(component:str | None) -> str
        The relative location of a directory reached as component (or, for
        None, reached at the end of the request path), with its trailing
        slash and the query string kept.
        """
        if component is None:
            try:
                from qpd.web.common import get_request
                path = get_request().get_path()
            except Exception:
                path = ''
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
