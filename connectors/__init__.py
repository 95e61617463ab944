"""Platform, ERP, carrier and SMS connectors, each with its loopback simulator (see issue #3)."""
