"""Stock master: code, name, former names, board, list date, ST flag.

(Interface fixed here; the loader is being implemented — see docs/interfaces.md.)
"""
