"""Database access: connection set-up, migrations and the named SQL queries."""
