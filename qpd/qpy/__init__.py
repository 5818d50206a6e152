"""qpd.qpy: HTML assembly with automatic quoting.

`xml` is a str of trusted markup; combining it with other values quotes
them. `name.qpy` modules (see qpd.qpy.compiler) hold templates written as
functions whose expression statements are accumulated into xml.
"""

from qpd.qpy.xml import (
    xml, h8, u8, xml_quote, join_xml, join_str, html_escape_string, stringify)
from qpd.qpy.compiler import compile_qpy, get_code
from qpd.qpy.importer import compile, compile_qpy_file, compile_qpy_files

__all__ = ['xml', 'h8', 'u8', 'xml_quote', 'join_xml', 'join_str',
           'html_escape_string', 'stringify', 'compile_qpy', 'get_code',
           'compile', 'compile_qpy_file', 'compile_qpy_files']
