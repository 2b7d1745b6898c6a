"""One RabbitMQ connection and channel that heal themselves, and the topology they declare.

Every adapter owns one :class:`RabbitLink` and sends each broker operation
through :meth:`RabbitLink.run`. When the connection is lost (the broker
restarted, a network fault, ``rabbitmqctl close_connection``) the operation is
retried with exponential backoff by tenacity on a new connection, whose
*setups* (topology, confirms, consumers) are replayed first. The link counts its
connections in :attr:`RabbitLink.generation`, so that a delivery taken on an
older connection knows it can no longer be settled. A link belongs to one
thread, as pika's blocking connection does.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions as pex
from pika.adapters.blocking_connection import BlockingChannel
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_never,
    stop_when_event_set,
    wait_exponential,
)
from tenacity.stop import stop_base

from imgproc.adapters.rabbit.errors import BrokerRejected, describe, is_retryable, translate
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.adapters.rabbit.topology import declare_topology
from imgproc.core.errors import ConfigurationError

log = logging.getLogger(__name__)

T = TypeVar("T")
Setup = Callable[[BlockingChannel], None]
PERSISTENT = pika.DeliveryMode.Persistent


def enable_confirms(channel: BlockingChannel) -> None:
    """Publishes on this channel return only once the broker has stored the message."""
    channel.confirm_delivery()


def message_properties(message_id: str | None,
                       headers: dict[str, object] | None = None) -> pika.BasicProperties:
    """Properties of every message imgproc publishes: persistent JSON, with its id."""
    return pika.BasicProperties(delivery_mode=PERSISTENT, content_type="application/json",
                                message_id=message_id, headers=headers)


class LinkedClient:
    """An adapter over one :class:`RabbitLink` (``_link``), and what the broker knows of it."""

    _link: RabbitLink

    @property
    def connection_name(self) -> str:
        """The name the broker shows for this client's connection."""
        return self._link.connection_name

    @property
    def connections(self) -> int:
        """How many connections this client has opened: 1, plus one per reconnect."""
        return self._link.generation


class RabbitLink:
    """A self-healing connection with one channel, used by one thread."""

    def __init__(self, settings: RabbitSettings, role: str, setups: list[Setup] | None = None,
                 *, declare: bool = True, sleep: Callable[[float], None] | None = None,
                 stop: threading.Event | None = None) -> None:
        """``stop``, once set, ends the retries after a few more (and cuts their waits
        short): a process asked to stop while the broker is away stops, whatever
        ``connect_attempts`` says."""
        self.settings = settings
        self.connection_name = f"imgproc-{role}-{uuid.uuid4().hex[:12]}"
        self.generation = 0
        topology: list[Setup] = [self._declare_topology] if declare else []
        self._setups = topology + list(setups or [])
        self._stop = stop
        self._sleep: Callable[[float], None] = sleep or (
            self._wait_for_stop if stop is not None else time.sleep)
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._closed = False

    def _wait_for_stop(self, seconds: float) -> None:
        assert self._stop is not None
        self._stop.wait(seconds)

    def add_setup(self, setup: Setup) -> None:
        """Run ``setup`` on every future connection (the current one is the caller's to handle)."""
        self._setups.append(setup)

    def run(self, doing: str, op: Callable[[BlockingChannel], T],
            attempts: int | None = None) -> T:
        """``op(channel)``, reconnecting and retrying while the broker is unavailable, at most
        ``attempts`` times if given (else as the settings say)."""
        if self._closed:
            raise BrokerRejected(doing, self.settings.safe_url,
                                 f"{self.connection_name} was closed")
        attempts = attempts or self.settings.connect_attempts
        give_up: stop_base = stop_never if attempts is None else stop_after_attempt(attempts)
        if self._stop is not None:  # a few tries still, for the last result and ack
            give_up = give_up | (stop_when_event_set(self._stop) & stop_after_attempt(3))
        retrying = Retrying(
            stop=give_up,
            wait=wait_exponential(multiplier=self.settings.backoff_s,
                                  max=self.settings.max_backoff_s),
            retry=retry_if_exception(is_retryable),
            before_sleep=lambda state: self._log_retry(doing, state),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, op)
        except (pex.AMQPError, OSError) as exc:
            raise translate(exc, doing, self.settings.safe_url, self._password()) from exc

    def _declare_topology(self, channel: BlockingChannel) -> None:
        declare_topology(channel, self.settings)

    def is_current(self, generation: int) -> bool:
        """Whether a delivery taken on connection ``generation`` can still be settled."""
        return (not self._closed and generation == self.generation
                and self._channel is not None and self._channel.is_open)

    def settle(self, doing: str, generation: int, op: Setup) -> bool:
        """Run ``op`` once on the connection of ``generation``; False (logged) if that is gone."""
        if not self.is_current(generation):
            log.warning("%s: connection %s is gone; the broker will redeliver", doing,
                        self.connection_name)
            return False
        assert self._channel is not None
        try:
            op(self._channel)
        except (pex.AMQPError, OSError) as exc:
            log.warning("%s failed (%s); the broker will redeliver", doing, describe(exc))
            self._drop()
            return False
        return True

    def publish(self, doing: str, exchange: str, routing_key: str, body: bytes, *,
                message_id: str, mandatory: bool, headers: dict[str, object] | None = None,
                attempts: int | None = None) -> None:
        """Persistent publish, confirmed; re-published on a new connection if the old one broke."""
        props = message_properties(message_id, headers)
        self.run(doing, lambda ch: ch.basic_publish(exchange, routing_key, body, props,
                                                    mandatory=mandatory), attempts)

    def keep_alive(self, doing: str) -> None:
        """Send due heartbeats and take in what the broker sent, without waiting and without
        reconnecting: a delivery in hand can only be settled on its own connection."""
        channel = self._channel
        if channel is None or not channel.is_open:
            return
        try:
            channel.connection.process_data_events(time_limit=0)
        except (pex.AMQPError, OSError) as exc:
            log.warning("%s failed (%s); the broker will redeliver", doing, describe(exc))
            self._drop()

    def wait(self, doing: str, seconds: float) -> None:
        """Let the broker push deliveries to this link's consumers for up to ``seconds``."""
        self.run(doing, lambda ch: ch.connection.process_data_events(time_limit=max(seconds, 0)))

    def new_connection(self, purpose: str) -> pika.BlockingConnection:
        """A connection apart from this link's, named after it and ``purpose``, for the
        caller to close (a stream read: ``imgproc.adapters.rabbit.stream``)."""
        every = self._parameters()
        for params in every:
            params.client_properties = {"connection_name": f"{self.connection_name}-{purpose}"}
        return pika.BlockingConnection(every)

    def close(self) -> None:
        """Close the connection; unsettled deliveries go back to their queues."""
        self._closed = True
        self._drop()

    def _attempt(self, op: Callable[[BlockingChannel], T]) -> T:
        try:
            return op(self._ensure_channel())
        except (pex.AMQPError, OSError):
            self._drop()
            raise

    def _ensure_channel(self) -> BlockingChannel:
        if self._channel is not None and self._channel.is_open:
            return self._channel
        self._drop()
        self._connection = pika.BlockingConnection(self._parameters())
        channel = self._connection.channel()
        self.generation += 1
        self._channel = channel
        try:
            for setup in self._setups:
                setup(channel)
        except BaseException:
            self._drop()  # never leave a channel without its confirms or its consumers
            raise
        verb = "connected" if self.generation == 1 else "reconnected"
        log.info("%s to %s as %s", verb, self.settings.safe_url, self.connection_name)
        return channel

    def _parameters(self) -> list[pika.URLParameters]:
        """One set of parameters per broker of ``url``: pika tries them in order."""
        s = self.settings
        try:
            every = [pika.URLParameters(url) for url in s.urls]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"broker url {s.safe_url}: {type(exc).__name__}") from None
        if not every:
            raise ConfigurationError("broker url is empty: give at least one amqp:// address")
        for params in every:
            params.client_properties = {"connection_name": self.connection_name}
            params.heartbeat = s.heartbeat_s
            params.socket_timeout = s.socket_timeout_s
            params.blocked_connection_timeout = s.blocked_timeout_s
            params.connection_attempts = 1
        return every

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pex.AMQPError, OSError) as exc:
                log.debug("closing %s: %s", self.connection_name, describe(exc))

    def _log_retry(self, doing: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        attempts = self.settings.connect_attempts
        log.warning("%s on %s failed (%s); retrying in %.1fs (try %d of %s)", doing,
                    self.settings.safe_url, describe(exc) if exc else "?", wait,
                    state.attempt_number + 1, "unlimited" if attempts is None else attempts)

    def _password(self) -> str | None:
        """The first broker's password, to scrub from error texts."""
        try:
            password = urlsplit(self.settings.urls[0]).password if self.settings.urls else None
        except ValueError:
            return None
        return unquote(password) if password else None
