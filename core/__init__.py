"""The domain and the decisions of imgproc: jobs, traces, machines, policies,
the scaler's loop, metrics and the simulator.

Nothing in this package does network, process or terminal I/O, and nothing
imports from ``imgproc.adapters`` or ``imgproc.tui`` (a test checks it).
Time is always injected through :class:`imgproc.core.clock.Clock`.
"""
