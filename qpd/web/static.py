"""qpd.web.static: files served from the file system.

StaticFile answers one file, with Last-Modified and ETag, 304 answers to
conditional requests and 206 answers to Range requests, streaming the
content in chunks: one range is the body itself, several are the parts of
a `multipart/byteranges` body (RFC 9110 14.6), its Content-Length known in
advance. A request for more than MAX_RANGES ranges, or for ranges that add
up to more than the file twice over (overlapping ranges, a known way to
make a server do a lot of work), gets the whole file instead, as the RFC
allows. StaticDirectory is a Directory of such files (and of its
subdirectories) that no path can leave: '..', dot files and symlinks
pointing outside the tree are all 404. A directory's URL serves its index
file (`index.html` unless `index` says otherwise; None for none) when it
has one, else its listing when listing is on, else 404.
"""

import binascii
import mimetypes
import os
import re
import stat
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from qpd.qpy import xml, join_xml
from qpd.web.directory import Directory
from qpd.web.errors import MethodNotAllowed, NotFound
from qpd.web.html import href, url_quote
from qpd.web.response import http_date

__all__ = ['StaticFile', 'StaticDirectory', 'guess_content_type',
           'MAX_RANGES']

MAX_RANGES = 16
_DIGITS = re.compile('[0-9]+')

_ENCODING_TYPES = {
    'gzip': 'application/gzip', 'bzip2': 'application/x-bzip2',
    'xz': 'application/x-xz', 'br': 'application/x-brotli',
    'compress': 'application/x-compress',
}


def guess_content_type(path):
    """(path:str) -> str
    The media type for a file name; a compressed file (x.tar.gz) is the
    compressed type, not the type of what it holds.
    """
    content_type, encoding = mimetypes.guess_type(path, strict=False)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, 'application/octet-stream')
    return content_type or 'application/octet-stream'


class _FileRange:
    """(file, start:int, length:int, chunk_size:int)
    An iterable of length bytes of file from start, in chunks; the file is
    closed at the end, or by close() (which the response calls when the
    body is not sent, as for HEAD).
    """

    def __init__(self, file, start, length, chunk_size):
        self.file = file
        self.start = start
        self.length = length
        self.chunk_size = chunk_size

    def get_file_span(self):
        """() -> (file, start:int, length:int): what this body sends, for
        a server that sends it from the file itself (sendfile)."""
        return self.file, self.start, self.length

    def __iter__(self):
        file = self.file
        try:
            file.seek(self.start)
            length = self.length
            while length > 0:
                chunk = file.read(min(self.chunk_size, length))
                if not chunk:
                    break
                length -= len(chunk)
                yield chunk
        finally:
            file.close()

    def close(self):
        """()"""
        self.file.close()


class _MultipartRanges:
    """(file, parts:[(head:bytes, start:int, length:int)], tail:bytes,
        chunk_size:int)
    A multipart/byteranges body: each part's head, then its bytes of
    file; then the closing boundary. The file is closed at the end, or by
    close()."""

    def __init__(self, file, parts, tail, chunk_size):
        self.file = file
        self.parts = parts
        self.tail = tail
        self.chunk_size = chunk_size

    def __iter__(self):
        file = self.file
        try:
            for head, start, length in self.parts:
                yield head
                file.seek(start)
                while length > 0:
                    chunk = file.read(min(self.chunk_size, length))
                    if not chunk:
                        return
                    length -= len(chunk)
                    yield chunk
            yield self.tail
        finally:
            file.close()

    def close(self):
        """()"""
        self.file.close()


def _etag_matches(header, etag):
    """(header:str, etag:str) -> bool
    Whether an If-None-Match header names etag (weak comparison).
    """
    if header.strip() == '*':
        return True
    bare = etag[2:] if etag.startswith('W/') else etag
    for tag in header.split(','):
        tag = tag.strip()
        if tag.startswith('W/'):
            tag = tag[2:]
        if tag == bare:
            return True
    return False


def _parse_http_date(value):
    """(value:str) -> float | None"""
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _parse_ranges(header, size):
    """(header:str, size:int) -> [(int, int)] | str | None
    The (first, last) byte positions of each satisfiable range, in the
    order asked; 'unsatisfiable' when none is; None when the header is to
    be ignored (malformed, more than MAX_RANGES ranges, or ranges adding
    up to more than twice the file: the whole file is sent).
    """
    if not header.startswith('bytes='):
        return None
    specs = [spec for spec in header[6:].split(',') if spec.strip()]
    if not specs or len(specs) > MAX_RANGES:
        return None
    ranges = []
    for spec in specs:
        found = _parse_range('bytes=' + spec.strip(), size)
        if found is None:
            return None
        if found != 'unsatisfiable':
            ranges.append(found)
    if not ranges:
        return 'unsatisfiable'
    if sum(last - first + 1 for first, last in ranges) > 2 * size:
        return None
    return ranges


def _parse_range(header, size):
    """(header:str, size:int) -> (int, int) | str | None
    (first, last) byte positions of a single byte range, 'unsatisfiable'
    when the range lies past the end, None when the header is to be
    ignored (malformed, or several ranges: see _parse_ranges).
    """
    if not header.startswith('bytes='):
        return None
    spec = header[6:].strip()
    if ',' in spec:
        return None
    first, dash, last = spec.partition('-')
    first = first.strip()
    last = last.strip()
    # ASCII digits only: str.isdigit() takes '\xb2' (superscript two),
    # which int() then refuses.
    if not dash or not _DIGITS.fullmatch(first + last):
        return None
    if not first:
        if not last:
            return None
        count = int(last)
        if count == 0 or size == 0:
            return 'unsatisfiable'
        return max(0, size - count), size - 1
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return 'unsatisfiable'
    end = int(last) if last else size - 1
    return start, min(end, size - 1)


class StaticFile:
    """(path:str, content_type:str=None, charset:str='utf-8', cache_seconds:int=None, chunk_size:int=65536)
    A file to serve. content_type defaults to the type of the file name;
    charset is named for text types; cache_seconds, when given, is passed
    to response.set_expires().
    """

    def __init__(self, path, content_type=None, charset='utf-8',
                 cache_seconds=None, chunk_size=64 * 1024, mime_type=None,
                 encoding=None, cache_time=None, follow_symlinks=False):
        # mime_type, encoding, cache_time: QP's names for content_type,
        # charset, cache_seconds. follow_symlinks is accepted and ignored:
        # a StaticFile serves the file its path names.
        self.path = path
        self.content_type = mime_type or content_type
        self.charset = encoding or charset
        self.cache_seconds = (cache_time if cache_time is not None
                              else cache_seconds)
        self.chunk_size = chunk_size

    def __repr__(self):
        return '<StaticFile %r>' % self.path

    def get_path(self):
        """() -> str"""
        return self.path

    def get_content_type(self):
        """() -> str"""
        return self.content_type or guess_content_type(self.path)

    def __call__(self):
        """() -> bytes | file
        Serve the file to the current request (from qpd.web.common): the
        response is complete when this returns, and what is returned is
        its body (never None, which would be a 404).
        """
        from qpd.web.common import get_request, get_response
        response = get_response()
        self.respond(get_request(), response)
        return response.get_body()

    def respond(self, request, response):
        """(request:HTTPRequest, response:HTTPResponse) -> None
        Set response up to answer request with the file: 200 with the
        content streamed, 304 when the client's copy is current, 206 for
        satisfiable Ranges (several: multipart/byteranges), 416 when none
        is satisfiable. NotFound when
        the file is missing or not a regular file, MethodNotAllowed for
        methods other than GET and HEAD.
        """
        method = request.get_method()
        if method not in ('GET', 'HEAD'):
            raise MethodNotAllowed(headers=[('Allow', 'GET, HEAD')])
        try:
            file = open(self.path, 'rb')
        except OSError:
            raise NotFound() from None
        try:
            info = os.fstat(file.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise NotFound()
            self._respond(request, response, file, info)
        except BaseException:
            file.close()
            raise

    def _respond(self, request, response, file, info):
        size = info.st_size
        etag = '"%x-%x"' % (info.st_mtime_ns, size)
        last_modified = http_date(int(info.st_mtime))
        response.set_content_type(self.get_content_type(), self.charset)
        response.set_header('Last-Modified', last_modified)
        response.set_header('ETag', etag)
        response.set_header('Accept-Ranges', 'bytes')
        if self.cache_seconds is not None:
            response.set_expires(self.cache_seconds)
        if self._is_not_modified(request, etag, info.st_mtime):
            file.close()
            response.set_status(304)
            response.set_body(b'')
            return
        byte_range = None
        range_header = request.get_header('Range')
        if range_header is not None:
            if_range = request.get_header('If-Range')
            if if_range is None or if_range.strip() in (etag, last_modified):
                byte_range = _parse_ranges(range_header.strip(), size)
        if byte_range == 'unsatisfiable':
            file.close()
            response.set_status(416)
            response.set_header('Content-Range', 'bytes */%d' % size)
            response.set_body(b'')
        elif byte_range is not None and len(byte_range) > 1:
            self._respond_multipart(response, file, byte_range, size)
        elif byte_range is not None:
            start, end = byte_range[0]
            response.set_status(206)
            response.set_header('Content-Range', 'bytes %d-%d/%d' % (start, end, size))
            response.set_header('Content-Length', str(end - start + 1))
            response.set_body(_FileRange(file, start, end - start + 1, self.chunk_size))
        else:
            response.set_header('Content-Length', str(size))
            response.set_body(_FileRange(file, 0, size, self.chunk_size))

    def _respond_multipart(self, response, file, ranges, size):
        """206 with a multipart/byteranges body of ranges of file."""
        boundary = binascii.hexlify(os.urandom(12)).decode('ascii')
        content_type = self.get_content_type()
        if self.charset and content_type.startswith('text/'):
            content_type += '; charset=%s' % self.charset
        parts = []
        length = 0
        for start, end in ranges:
            head = ('\r\n--%s\r\nContent-Type: %s\r\n'
                    'Content-Range: bytes %d-%d/%d\r\n\r\n' % (
                        boundary, content_type, start, end, size)
                    ).encode('latin-1')
            parts.append((head, start, end - start + 1))
            length += len(head) + end - start + 1
        tail = ('\r\n--%s--\r\n' % boundary).encode('ascii')
        length += len(tail)
        response.set_status(206)
        response.set_content_type(
            'multipart/byteranges; boundary=%s' % boundary, None)
        response.set_header('Content-Length', str(length))
        response.set_body(_MultipartRanges(file, parts, tail,
                                           self.chunk_size))

    def _is_not_modified(self, request, etag, mtime):
        if_none_match = request.get_header('If-None-Match')
        if if_none_match is not None:
            return _etag_matches(if_none_match, etag)
        if_modified_since = request.get_header('If-Modified-Since')
        if if_modified_since:
            since = _parse_http_date(if_modified_since)
            return since is not None and int(mtime) <= since
        return False


def _is_safe_name(name):
    """(name:str) -> bool
    Whether name can only be a file of the directory itself: not empty,
    not '.' or '..', no separator or NUL, not hidden (except .well-known),
    and none of that in its percent-decoded form either.
    """
    for candidate in (name, unquote(name)):
        if not candidate or '/' in candidate or '\\' in candidate or '\x00' in candidate:
            return False
        if candidate.startswith('.') and candidate != '.well-known':
            return False
        if os.path.isabs(candidate):
            return False
    return True


class StaticDirectory(Directory):
    """(path:str, list_directory=False, cache_seconds:int=None, file_class=StaticFile, root:str=None, index='index.html')
    A Directory serving the files below path. The directory's own URL
    serves its index file (index; None for none) when there is one, else a
    listing when list_directory is true, else 404.
    file_class makes the file objects (file_class(path, cache_seconds=...));
    root, which subdirectories get from their parent, is the tree that no
    path may leave (path itself by default).
    Nothing outside path is served: '..' and encoded '%2e%2e', hidden
    names, and symlinks that resolve outside the tree are 404.
    """

    def __init__(self, path, list_directory=False, cache_seconds=None,
                 file_class=StaticFile, root=None, use_cache=False,
                 follow_symlinks=False, cache_time=None, index='index.html',
                 index_filenames=None):
        # QP's keywords: cache_time is cache_seconds; the first of
        # index_filenames is the index; use_cache and follow_symlinks are
        # accepted and ignored (symlinks inside the tree are followed,
        # never those that leave it).
        if index_filenames:
            index = index_filenames[0]
        self.path = os.path.abspath(path)
        self.root = os.path.realpath(root or path)
        self.list_directory = list_directory
        self.cache_seconds = (cache_time if cache_time is not None
                              else cache_seconds)
        self.file_class = file_class or StaticFile
        self.index = index

    def __repr__(self):
        return '<StaticDirectory %r>' % self.path

    def get_path(self):
        """() -> str"""
        return self.path

    def get_exports(self):
        """() -> iterator of (component, attribute, crumb, title)
        Only the index: the index file, or the listing when it is on.
        """
        if self.list_directory or self.get_index_path():
            yield '', '_q_index', None, None

    def get_index_path(self):
        """() -> str | None: the real path of this directory's index file,
        when it has one."""
        if not self.index:
            return None
        real = self.get_file_path(self.index)
        if real is not None and os.path.isfile(real):
            return real
        return None

    def get_file_path(self, name):
        """(name:str) -> str | None
        The real path of the entry name of this directory, or None when the
        name is not safe or the entry resolves outside the tree.
        """
        if not _is_safe_name(name):
            return None
        real = os.path.realpath(os.path.join(self.path, name))
        if os.path.commonpath([real, self.root]) != self.root:
            return None
        return real

    def _q_lookup(self, component):
        """(component:str) -> StaticFile | StaticDirectory | None"""
        real = self.get_file_path(component)
        if real is None:
            return None
        if os.path.isdir(real):
            return self.__class__(real, self.list_directory, self.cache_seconds,
                                  self.file_class, root=self.root,
                                  index=self.index)
        if os.path.isfile(real):
            return self.file_class(real, cache_seconds=self.cache_seconds)
        return None

    def get_listing(self):
        """() -> list[str]
        The names a listing shows: visible entries within the tree, sorted,
        directories with a trailing '/'.
        """
        names = []
        try:
            entries = os.listdir(self.path)
        except OSError:
            raise NotFound() from None
        for name in sorted(entries):
            real = self.get_file_path(name)
            if real is None:
                continue
            if os.path.isdir(real):
                names.append(name + '/')
            elif os.path.isfile(real):
                names.append(name)
        return names

    def _q_index(self):
        """() -> xml | body
        The index file when there is one, else a page listing the
        directory (when listing is on).
        """
        index = self.get_index_path()
        if index is not None:
            return self.file_class(index, cache_seconds=self.cache_seconds)()
        if not self.list_directory:
            raise NotFound()
        title = os.path.basename(self.path) or '/'
        links = [xml('<li>%s</li>') % href('../', '..')]
        for name in self.get_listing():
            links.append(xml('<li>%s</li>') % href(url_quote(name), name))
        return xml(
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            '<title>%s</title></head>\n<body><h1>%s</h1>\n<ul>\n%s\n</ul>\n'
            '</body></html>\n') % (title, title, join_xml(links, xml('\n')))
