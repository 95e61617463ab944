"""Use cases: one function per command, one transaction each, through a unit of work."""
