"""In-memory twins of the adapters: the same behaviour, for tests and the simulator."""
