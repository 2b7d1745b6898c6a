"""The composition root: every component built from the settings, adapters chosen here.

``sim`` builds simulated runs; ``processes`` the live system's worker, deployer and
scaler; ``live`` the operator's tools on it (live replay, console backend); ``memory``
the live system on in-memory adapters and a stepped clock (tests, demos); ``console``
picks the console's backend. Each adapter is a keyword argument whose default is the
real one. Nothing is built at import time, and importing one module does not import the
others (a worker starts on every scale-up).
"""
