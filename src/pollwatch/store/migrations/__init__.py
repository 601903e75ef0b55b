"""Alembic migrations of the observation store; run by :func:`pollwatch.store.upgrade_database`."""
