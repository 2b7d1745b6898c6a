"""ZooKeeper adapters: the machine registry, worker liveness, the scaler's config and election.

The layout of the tree is documented in ``docs/zookeeper.md`` and coded once in
:mod:`imgproc.adapters.zk.layout`; the in-memory twins of these adapters live
in :mod:`imgproc.adapters.memory.registry`.
"""
