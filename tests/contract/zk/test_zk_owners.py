"""A machine's owner: the deployer that provisions it claims it while it is preparing, in
one compare-and-set, so that of two deployers given the same machine exactly one owns it.
On the in-memory twin and on ZooKeeper."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
from test_zk_concurrency import _race

from imgproc.adapters.zk.layout import BadRecord
from imgproc.core.machines import MachineState, NotClaimable

S = MachineState


def test_a_preparing_machine_is_claimed_and_keeps_its_owner_through_its_life(backend,
                                                                           make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING))
    assert registry.get("m1").owner is None

    claimed = registry.update("m1", owner="deployer-a")

    assert claimed.owner == "deployer-a" and registry.get("m1") == claimed
    registry.transition("m1", S.BOOTING, at=2.0)
    registry.update("m1", current_job="j1")
    assert registry.get("m1").owner == "deployer-a"


def test_a_claim_may_be_repeated_by_its_owner_only(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING))
    registry.update("m1", owner="deployer-a")
    registry.update("m1", owner="deployer-a")  # a retried provision

    with pytest.raises(NotClaimable, match="owned by deployer-a"):
        registry.update("m1", owner="deployer-b")
    assert registry.get("m1").owner == "deployer-a"


@pytest.mark.parametrize("state", [S.BOOTING, S.RUNNING, S.FAILED, S.DESTROYED])
def test_a_machine_past_preparing_cannot_be_claimed(backend, make_machine, state):
    registry = backend.registry()
    registry.create(make_machine("m1", state))
    before = registry.get("m1")
    with pytest.raises(NotClaimable, match=state.value):
        registry.update("m1", owner="deployer-a")
    assert registry.get("m1") == before


def test_an_empty_owner_is_refused(backend, make_machine):
    registry = backend.registry()
    registry.create(make_machine("m1", S.PREPARING))
    with pytest.raises(BadRecord):
        registry.update("m1", owner="")


def test_of_two_deployers_claiming_one_machine_exactly_one_owns_it(backend, make_machine):
    first, second = (backend.registry(backend.session()) for _ in range(2))
    for n in range(8):
        first.create(make_machine(f"m{n}", S.PREPARING))
        outcomes = _race([partial(first.update, f"m{n}", owner="deployer-a"),
                          partial(second.update, f"m{n}", owner="deployer-b")])
        winners = [o for o in outcomes if not isinstance(o, Exception)]
        losers = [o for o in outcomes if isinstance(o, NotClaimable)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert first.get(f"m{n}").owner == winners[0].owner


def test_an_unowned_record_is_stored_as_before_owners_and_an_owned_one_names_it(zk,
                                                                              make_machine):
    registry = zk.registry()
    registry.create(make_machine("m1", S.PREPARING))
    client = zk.session()
    assert "owner" not in json.loads(client.get(f"{zk.root}/machines/m1")[0])
    registry.update("m1", owner="local@host:/state")
    assert json.loads(client.get(f"{zk.root}/machines/m1")[0])["owner"] == "local@host:/state"


def test_claims_of_many_machines_by_many_deployers_leave_each_with_one_owner(backend,
                                                                            make_machine):
    registry = backend.registry()
    ids = [f"m{n}" for n in range(12)]
    for machine_id in ids:
        registry.create(make_machine(machine_id, S.PREPARING))

    def claim_all(owner: str) -> list[str]:
        won = []
        for machine_id in ids:
            try:
                registry.update(machine_id, owner=owner)
                won.append(machine_id)
            except NotClaimable:
                pass
        return won

    with ThreadPoolExecutor(3) as pool:
        won = dict(zip("abc", pool.map(claim_all, ["deployer-a", "deployer-b", "deployer-c"]),
                       strict=True))
    assert sorted(i for machine_ids in won.values() for i in machine_ids) == sorted(ids)
    for letter, machine_ids in won.items():
        assert all(registry.get(i).owner == f"deployer-{letter}" for i in machine_ids)
