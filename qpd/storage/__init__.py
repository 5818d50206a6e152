"""qpd.storage: Durus: the storage server runner, client connections, and the
persistent classes every site shares (Session, User, Permissions, TokenSet,
Digester, Keep)."""
