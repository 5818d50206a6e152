"""qpd.storage: Durus: the storage server runner, client connections, and the
persistent classes every site shares (Session, User, Permissions, TokenSet,
Digester, Keep).

    qpd.storage.server       run a site's StorageServer (`qpd durus NAME`)
    qpd.storage.connection   connect(), reconnect() to a StorageServer
    qpd.storage.session      Session
    qpd.storage.user         User (and Digester, Permissions, TokenSet)
    qpd.storage.keep         Keep, Keyed
"""

from qpd.storage.digester import Digester
from qpd.storage.keep import Keep, Keyed
from qpd.storage.permissions import Permissions
from qpd.storage.session import Session
from qpd.storage.token_set import TokenSet
from qpd.storage.user import User

__all__ = ['Session', 'User', 'Permissions', 'TokenSet', 'Digester', 'Keep',
           'Keyed']
