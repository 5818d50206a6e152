"""A tiny qpd site with one form, for the form tests (Profile and browser)."""
