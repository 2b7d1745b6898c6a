"""The deployer's queues' contract, checked on the in-memory broker and on RabbitMQ alike."""

from __future__ import annotations

from imgproc.core.messages import DeployerCommand, StateReport

PROVISION = DeployerCommand(command="provision", machine_id="m-1", sent_at=5.0)
RUNNING = StateReport(machine_id="m-1", state="running", at=9.0, address="10.0.0.7")


def test_a_command_reaches_the_deployer_unchanged(broker_kit):
    broker_kit.bus().send(PROVISION)
    delivery = broker_kit.bus().next_command(5)
    assert DeployerCommand.decode(delivery.body) == PROVISION
    delivery.ack()


def test_a_state_report_reaches_the_manager_unchanged(broker_kit):
    broker_kit.bus().send_report(RUNNING)
    delivery = broker_kit.bus().next_report(5)
    assert StateReport.decode(delivery.body) == RUNNING
    delivery.ack()


def test_commands_and_reports_travel_on_separate_queues(broker_kit):
    manager, deployer = broker_kit.bus(), broker_kit.bus()
    manager.send(PROVISION)
    deployer.send_report(RUNNING)
    assert StateReport.decode(manager.next_report(5).body) == RUNNING
    assert DeployerCommand.decode(deployer.next_command(5).body) == PROVISION
    assert manager.next_report(0.1) is None


def test_a_command_left_unacked_by_a_crashed_deployer_goes_to_the_next_one(broker_kit):
    broker_kit.bus().send(PROVISION)
    crashed = broker_kit.bus()
    crashed.next_command(5)
    crashed.close()
    delivery = broker_kit.bus().next_command(5)
    assert DeployerCommand.decode(delivery.body) == PROVISION
    assert delivery.redelivered is True


def test_a_deployer_takes_one_command_at_a_time(broker_kit):
    manager, deployer = broker_kit.bus(), broker_kit.bus()
    manager.send(PROVISION)
    manager.send(PROVISION.model_copy(update={"machine_id": "m-2"}))
    first = deployer.next_command(5)
    assert deployer.next_command(0.3) is None
    first.ack()
    assert DeployerCommand.decode(deployer.next_command(5).body).machine_id == "m-2"
