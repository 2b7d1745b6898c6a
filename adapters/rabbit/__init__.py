"""RabbitMQ behind the messaging ports: jobs, dead letters, results, deployer commands.

Each adapter owns one self-healing connection (:mod:`.connection`); the
in-memory twins in :mod:`imgproc.adapters.memory` behave the same way without a
broker. Nothing connects at import time: constructors connect.
"""

from imgproc.adapters.rabbit.commands import RabbitCommandBus
from imgproc.adapters.rabbit.consumer import REASON_HEADER, RabbitDelivery
from imgproc.adapters.rabbit.errors import (
    AlreadySettled,
    BrokerError,
    BrokerRejected,
    BrokerUnavailable,
)
from imgproc.adapters.rabbit.jobs import RabbitJobPublisher, RabbitJobSource, RabbitReadyCount
from imgproc.adapters.rabbit.results import RabbitResultFeed, RabbitResultLookup, RabbitResultSink
from imgproc.adapters.rabbit.settings import RabbitSettings, redacted

__all__ = [
    "REASON_HEADER", "AlreadySettled", "BrokerError", "BrokerRejected", "BrokerUnavailable",
    "RabbitCommandBus", "RabbitDelivery", "RabbitJobPublisher", "RabbitJobSource",
    "RabbitReadyCount", "RabbitResultFeed", "RabbitResultLookup", "RabbitResultSink",
    "RabbitSettings", "redacted",
]
