"""qpd.qpy: HTML assembly with automatic quoting.

`xml` is a str of trusted markup; combining it with other values quotes
them. `name.qpy` modules (see qpd.qpy.compiler) hold templates written as
functions whose expression statements are accumulated into xml.
"""

from qpd.qpy.xml import xml, h8, xml_quote, join_xml

__all__ = ['xml', 'h8', 'xml_quote', 'join_xml']
