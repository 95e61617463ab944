"""A real lost database connection in the middle of a statement the test names (pg_terminate_backend)."""

from __future__ import annotations

import psycopg
import sqlalchemy as sa


class LoseTheConnection:
    """While ``on``, the connection about to run a statement starting with ``prefix`` is killed just before it runs."""

    def __init__(self, hub, prefix: str) -> None:
        self.engine, self.prefix, self.on, self.kills = hub.engine, prefix.upper(), True, 0
        self.killer = psycopg.connect(hub.engine.url.set(drivername="postgresql").render_as_string(False),
                                      autocommit=True)
        sa.event.listen(self.engine, "before_cursor_execute", self._before)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.on and statement.lstrip().upper().startswith(self.prefix):
            self.kills += 1
            self.killer.execute("SELECT pg_terminate_backend(%s)", (conn.connection.dbapi_connection.info.backend_pid,))

    def close(self) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        self.killer.close()
