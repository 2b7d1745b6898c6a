"""Real systems behind the core's ports (files, clocks, RabbitMQ, ZooKeeper, providers)."""
