"""HTTP routes, one module per domain: thin handlers.

Each module exposes ``ROUTES`` and ``CONTRIBUTES`` (its routes, home panels and
links as values); ``app.domains`` lists them and ``create_app`` mounts them.
"""
