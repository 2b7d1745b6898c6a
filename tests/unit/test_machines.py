"""Machine lifecycle: legal moves pass, illegal ones are refused with a clear error."""

from __future__ import annotations

import pytest

from imgproc.core.errors import IllegalTransition
from imgproc.core.machines import (
    TRANSITIONS,
    Machine,
    MachineState,
    check_transition,
    is_machine_id,
)

S = MachineState

LEGAL = [
    (S.PREPARING, S.BOOTING), (S.BOOTING, S.RUNNING), (S.RUNNING, S.DRAINING),
    (S.DRAINING, S.DESTROYING), (S.DESTROYING, S.DESTROYED), (S.RUNNING, S.FAILED),
    (S.BOOTING, S.FAILED), (S.FAILED, S.DESTROYING), (S.PREPARING, S.DESTROYING),
]
ILLEGAL = [
    (S.PREPARING, S.RUNNING), (S.DESTROYED, S.RUNNING), (S.DRAINING, S.RUNNING),
    (S.DESTROYING, S.RUNNING), (S.RUNNING, S.BOOTING), (S.FAILED, S.RUNNING),
    (S.RUNNING, S.RUNNING),
]


@pytest.mark.parametrize("current,requested", LEGAL)
def test_allows_each_legal_move(current, requested):
    check_transition("m1", current, requested)


@pytest.mark.parametrize("current,requested", ILLEGAL)
def test_refuses_each_illegal_move(current, requested):
    with pytest.raises(IllegalTransition):
        check_transition("m1", current, requested)


def test_the_error_names_the_machine_both_states_and_what_is_allowed():
    with pytest.raises(IllegalTransition) as err:
        check_transition("worker003", S.PREPARING, S.RUNNING)
    message = str(err.value)
    assert "worker003" in message and "'preparing'" in message and "'running'" in message
    assert "booting, destroying, failed" in message


def test_destroyed_is_terminal():
    assert TRANSITIONS[S.DESTROYED] == frozenset()
    with pytest.raises(IllegalTransition, match="none \\(terminal state\\)"):
        check_transition("m", S.DESTROYED, S.DESTROYING)


def test_every_state_is_reachable_from_preparing():
    seen, frontier = {S.PREPARING}, [S.PREPARING]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(S)


def test_a_machine_record_moves_and_keeps_its_history_fields():
    m = Machine("m1", S.BOOTING, requested_at=1.0, state_since=1.0)
    running = m.moved_to(S.RUNNING, at=31.0)
    assert running.state is S.RUNNING and running.state_since == 31.0
    assert running.requested_at == 1.0 and m.state is S.BOOTING
    with pytest.raises(IllegalTransition):
        running.moved_to(S.PREPARING, at=40.0)


@pytest.mark.parametrize("text", ["worker-1a2b", "m1", "gpu box", "_w1", "w.1"])
def test_what_can_be_a_machine_id(text):
    assert is_machine_id(text)


@pytest.mark.parametrize("text", ["", ".", "..", "a/b", "../x", "-x", "a\nb", "w" * 201])
def test_what_could_name_a_path_or_an_option_is_not_a_machine_id(text):
    assert not is_machine_id(text)
