"""Helpers the tests share (factories for rows the services work on)."""
