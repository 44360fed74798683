"""Searching sessions by what they say: the query people type (``terms``) and the backends
that answer it over the whole table."""
