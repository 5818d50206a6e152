"""qpd.qpy: HTML assembly with automatic quoting (stub until the qpy work lands)."""
