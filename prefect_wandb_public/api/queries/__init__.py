"""Every GraphQL document the client sends, one module per domain.

These modules hold only strings (operation documents and the field lists they share) and import
nothing else of the package, so any object module can use any query without an import cycle.
Operation names match the official client's, which the server and its request log key on.
"""
