"""Provider implementations: the I/O shells around the sans-I/O stream core."""
