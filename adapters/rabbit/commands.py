"""The deployer's two queues on RabbitMQ: commands to it, state reports back from it.

Both are durable queues with persistent, confirmed messages, read one at a time
with manual ack (the seed's ``deployer`` and ``deployer_callback``). A process
subscribes only to the queue it reads from, on first use, so a deployer never
holds a report and a manager never holds a command.
"""

from __future__ import annotations

import threading

from imgproc.adapters.rabbit.connection import RabbitLink, enable_confirms
from imgproc.adapters.rabbit.consumer import QueueConsumer, RabbitDelivery
from imgproc.adapters.rabbit.settings import RabbitSettings
from imgproc.core.messages import DeployerCommand, StateReport


class RabbitCommandBus:
    """Commands for the deployer and its reports (a :class:`~imgproc.core.ports.CommandBus`)."""

    def __init__(self, settings: RabbitSettings, role: str = "command-bus",
                 command_prefetch: int = 1, stop: threading.Event | None = None) -> None:
        """``command_prefetch``: commands handed out before the first is acknowledged
        (a deployer carrying out several at once)."""
        self._settings = settings
        self._link = RabbitLink(settings, role, [enable_confirms], stop=stop)
        dead = settings.dead_letter_queue
        self._commands = QueueConsumer(self._link, lambda: settings.deployer_queue,
                                       command_prefetch, dead)
        self._reports = QueueConsumer(self._link, lambda: settings.callback_queue, 1, dead)
        self._link.run("declaring the topology", lambda _ch: None)

    def send(self, command: DeployerCommand) -> None:
        self._link.publish(f"sending {command.command} {command.machine_id}", "",
                           self._settings.deployer_queue, command.encode(),
                           message_id=f"{command.command}:{command.machine_id}", mandatory=True)

    def next_command(self, timeout_s: float) -> RabbitDelivery | None:
        return self._commands.next(timeout_s)

    def send_report(self, report: StateReport) -> None:
        """Confirmed publish of a machine's new state on the callback queue."""
        self._link.publish(f"reporting {report.machine_id} {report.state}", "",
                           self._settings.callback_queue, report.encode(),
                           message_id=f"{report.machine_id}:{report.state}", mandatory=True)

    def next_report(self, timeout_s: float) -> RabbitDelivery | None:
        """The next state report delivery (body: a StateReport), or None."""
        return self._reports.next(timeout_s)

    def close(self) -> None:
        self._link.close()
