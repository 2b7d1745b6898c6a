"""The composition root: every component built from the settings, adapters chosen here.

``sim`` builds simulated runs; ``live`` the live system's processes and the operator's
tools (live replay, console), each adapter a keyword argument whose default is the real
one; ``memory`` the live system on in-memory adapters and a stepped clock (tests,
demos); ``console`` picks the console's backend. Nothing is built at import time.
"""

from imgproc.adapters.providers import provider_names
from imgproc.bootstrap.sim import (
    RunResult,
    build_simulation,
    policy_params,
    simulate,
    summarise_run,
)

__all__ = ["RunResult", "build_simulation", "policy_params", "provider_names", "simulate",
           "summarise_run"]
