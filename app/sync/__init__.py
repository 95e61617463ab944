"""Station sync: commands with UUIDs, a local outbox and cache (SQLite), the change feed, replay."""
