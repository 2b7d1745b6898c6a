"""The live system's loops (worker, deployer, scaler) and the live replay, on the core's
ports; ``imgproc.bootstrap.processes`` wires them to RabbitMQ, ZooKeeper and a provider (or,
in tests, to in-memory adapters)."""
