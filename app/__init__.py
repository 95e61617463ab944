"""OrderHub 订单中枢: the coordination layer beside the ERP for multi-channel order operations."""

__version__ = "0.1.0"
