"""The SQL store's schema revisions (Alembic): ``env.py`` and ``versions/``.

Run by :mod:`sso_bridge.store.sql_migrate` when a store opens, or by ``sso-bridge db
upgrade``; no ``alembic.ini`` is needed. Revision ``000N`` brings the schema to
``schema_version`` N of the releases before the revisions (docs/storage.md).
"""
