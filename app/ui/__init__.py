"""The Qt stations (the only package that imports PySide6; reaches data through app.services only)."""
