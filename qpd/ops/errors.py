"""OperationError: an operation on a site failed (exit status 1)."""

__all__ = ['OperationError']


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
