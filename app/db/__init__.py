"""Database adapter: SQLAlchemy models, the embedded server, migrations, change feed."""
