"""The broker's errors in imgproc's terms, and the translation of pika's into them.

Two kinds: :class:`BrokerUnavailable` is worth retrying (the connection was
lost, refused or blocked; a queue not back yet after a restart, which makes a
message unroutable or its declaration fail with 404 "is down or inaccessible");
:class:`BrokerRejected` is not (bad credentials, a queue declared with other
arguments). Messages name the operation and the broker's address with its password
hidden.

An unroutable message (published ``mandatory``) was stored nowhere, so publishing it
again on a new connection, which declares the queues and their bindings first, doubles
nothing; a message that stays unroutable ends the tries as any outage does.
"""

from __future__ import annotations

import pika.exceptions as pex

from imgproc.core.errors import ImgprocError

FATAL_CLOSE_CODES = frozenset({402, 403, 404, 406, 530})
NOT_FOUND = 404
FATAL_CONNECTION_ERRORS = (pex.AuthenticationError, pex.ProbableAuthenticationError,
                           pex.ProbableAccessDeniedError, pex.IncompatibleProtocolError)
RETRYABLE_CHANNEL_ERRORS = (pex.NackError, pex.ChannelWrongStateError, pex.ChannelClosedByClient,
                            pex.UnroutableError)


class BrokerError(ImgprocError):
    """Something went wrong talking to RabbitMQ while ``doing`` something."""

    def __init__(self, doing: str, where: str, problem: str) -> None:
        self.doing = doing
        self.where = where
        self.problem = problem
        super().__init__(f"{doing} on {where}: {problem}")


class BrokerUnavailable(BrokerError):
    """The broker cannot be reached right now; trying again later may work."""


class BrokerRejected(BrokerError):
    """The broker refused the operation, or the client was closed; trying again will not help."""


class AlreadySettled(ImgprocError):
    """A delivery was acked or dead-lettered a second time (a bug in the caller)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} was already settled; a delivery is settled exactly once")


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` (a pika or socket error) means: reconnect and try again."""
    if isinstance(exc, pex.IncompatibleProtocolError) and _lost_in_handshake(exc):
        return True
    if isinstance(exc, FATAL_CONNECTION_ERRORS):
        return False
    if isinstance(exc, (pex.ConnectionClosedByBroker, pex.ChannelClosedByBroker)):
        return exc.reply_code not in FATAL_CLOSE_CODES or _queue_coming_back(exc)
    if isinstance(exc, RETRYABLE_CHANNEL_ERRORS):
        return True
    return isinstance(exc, (pex.AMQPConnectionError, OSError))


def _queue_coming_back(exc: pex.ConnectionClosedByBroker | pex.ChannelClosedByBroker) -> bool:
    """404 for a durable queue whose node "is down or inaccessible": a cluster node that
    will come back, or, on one broker just started again, a stream whose writer is not up
    yet (seen for seconds after ``rabbitmqctl start_app``). Both pass."""
    return exc.reply_code == NOT_FOUND and "is down or inaccessible" in str(exc.reply_text)


def _lost_in_handshake(exc: pex.IncompatibleProtocolError) -> bool:
    """pika says "incompatible protocol" when the connection closes before the broker's
    greeting: a broker still starting, or a proxy with no way through yet. A server that
    answers in another protocol is a real incompatibility."""
    return any("StreamLostError" in str(arg) or "EOF" in str(arg) for arg in exc.args)


def translate(exc: BaseException, doing: str, where: str, secret: str | None = None) -> BrokerError:
    """The imgproc error for ``exc`` (raise it ``from exc``), with ``secret`` scrubbed."""
    problem = describe(exc)
    if secret:
        problem = problem.replace(secret, "***")
    if is_retryable(exc):
        return BrokerUnavailable(doing, where, problem)
    return BrokerRejected(doing, where, problem)


def describe(exc: BaseException) -> str:
    """A short text for ``exc`` fit for a log line (pika's own texts hold no password)."""
    if isinstance(exc, (pex.ConnectionClosed, pex.ChannelClosed)):
        return f"closed ({exc.reply_code}: {exc.reply_text})"
    if isinstance(exc, pex.UnroutableError):
        return ("the message could not be routed to any queue (none bound, or its queue "
                "not back yet after a broker restart)")
    if isinstance(exc, pex.NackError):
        return "the broker did not store the message (nack)"
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"
