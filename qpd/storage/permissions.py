"""qpd.storage.permissions: Permissions, what a user has been granted, and
by whom.

A permission is a string ('admin', 'edit', ...); a granter is whatever
granted it (a User, a group name): the same permission may be granted by
several granters, and withdrawing one grant leaves the others.
"""

from durus.persistent import Persistent

from qpd.lib.spec import mapping, spec, string

__all__ = ['Permissions', 'ANYONE']

ANYONE = None   # the granter argument that means "by any granter"


class Permissions(Persistent):
    """()"""

    grants_is = spec(mapping({string: set}), "permission -> set of granters")

    def __init__(self):
        self.grants = {}

    def grant(self, permission, granter):
        """(permission:str, granter) -> None
        granter: who grants it (a User, True for the site, a name); not
        None, which asks for any granter in is_granted (TypeError, as QP).
        """
        if not isinstance(permission, str):
            raise TypeError('permission: expected str, got %r' % (permission,))
        if granter is None:
            raise TypeError('grant(%r, None): None is no granter (it means '
                            '"any granter" in is_granted); pass who grants '
                            'it: a User, True (the site) or a name'
                            % permission)
        grants = dict(self.grants)
        grants[permission] = set(grants.get(permission, ())) | {granter}
        self.grants = grants

    def ungrant(self, permission, granter=ANYONE):
        """(permission:str, granter=ANYONE) -> None
        Withdraw granter's grant of permission, or every grant of it.
        """
        if permission not in self.grants:
            return
        grants = dict(self.grants)
        if granter is ANYONE:
            del grants[permission]
        else:
            remaining = set(grants[permission]) - {granter}
            if remaining:
                grants[permission] = remaining
            else:
                del grants[permission]
        self.grants = grants

    def is_granted(self, permission, granter=ANYONE):
        """(permission:str, granter=ANYONE) -> bool"""
        granters = self.grants.get(permission)
        if not granters:
            return False
        return granter is ANYONE or granter in granters

    def get_granters(self, permission):
        """(permission:str) -> set"""
        return set(self.grants.get(permission, ()))

    def get_permissions(self):
        """() -> [str] the permissions granted, sorted"""
        return sorted(self.grants)

    def __len__(self):
        return len(self.grants)

    # Read access as a mapping (QP's Permissions was a PersistentDict of
    # permission -> granters); grant() and ungrant() write.

    def __getitem__(self, permission):
        """(permission:str) -> set: its granters; KeyError if none"""
        return set(self.grants[permission])

    def get(self, permission, default=None):
        """(permission:str, default=None) -> set | default"""
        if permission in self.grants:
            return set(self.grants[permission])
        return default

    def __contains__(self, permission):
        return permission in self.grants

    def __iter__(self):
        return iter(self.get_permissions())

    def keys(self):
        """() -> [str]"""
        return self.get_permissions()

    def items(self):
        """() -> [(str, set)]"""
        return [(name, set(self.grants[name])) for name in self.get_permissions()]

    def __bool__(self):
        return True

