"""The shop's publisher and root directory, QP 1.1 style."""
from qp.pub.publish import Publisher
from qp.fill.directory import Directory
from qp.pub.common import get_publisher, get_user, ensure_signed_in


class SitePublisher (Publisher):

    configuration = dict(
        )


class SiteRootDirectory (Directory):

    def get_exports(self):
        yield ('', '_q_index', 'Shop', None)
        yield ('whoami', 'whoami', 'Who am I', None)
        yield ('account', 'account', 'Account', None)
        yield ('products', 'products', 'Products', None)

    def _q_index(self):
        return "The shop"

    def whoami(self):
        user = get_user()
        if user:
            return user.get_id()
        return "nobody"

    def account(self):
        ensure_signed_in()
        return "account: " + get_user().get_id()

    def products(self):
        root = get_publisher().get_root()
        names = []
        for key, product in root['products'].iteritems():
            names.append(product.describe())
        return "\n".join(names)
