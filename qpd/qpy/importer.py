"""Import hook for .qpy modules (stub)."""


def install():
    """() -> None"""
