"""Application services: the I/O-doing layer between the handlers and Navixy/SQLite."""
