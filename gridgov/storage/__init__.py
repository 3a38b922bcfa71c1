"""Storage: engine, session per request, declarative base, geometry columns, Alembic migrations."""
