"""The live system's processes (worker, deployer, scaler, submitter) and the live replay,
each wiring the core to RabbitMQ, ZooKeeper and a provider."""
