"""The two ways a `qpd` operation fails.

UsageError: a mistake on the command line or in a site's configuration
(exit status 2). OperationError: an operation on a site failed (exit
status 1). Both print as one line; the command line (qpd.cli) catches them.
"""

__all__ = ['OperationError', 'UsageError']


class UsageError(Exception):
    """A mistake on the command line or in a site's configuration: printed as
    one line, exit status 2."""


class OperationError(Exception):
    """An operation failed for a reason outside the command line: a site
    that does not answer, a supervisord that cannot be reached. str() is one
    line; `details` holds extra lines (a log's tail) worth printing."""

    def __init__(self, message, details=None):
        Exception.__init__(self, message)
        self.details = details or []

    def get_details(self):
        """() -> [str]"""
        return self.details
