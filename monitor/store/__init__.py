"""Persistence: sqlmodel tables, small repositories, Alembic migrations. SQLite and Postgres alike."""
