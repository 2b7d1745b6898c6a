"""The policy registry: listing order, building with parameters, and its errors."""

import pytest

from imgproc.core.errors import ConfigurationError, UnknownPolicy
from imgproc.core.observation import Observation
from imgproc.core.policies import build_policy, get_spec, policy_names, policy_specs

ORDER = [
    "constantsize", "queuesize", "moving-average-queue-size", "queuerate", "time",
    "target-tracking", "slo",
]


def test_lists_the_seed_policies_first_then_the_new_ones():
    assert policy_names() == ORDER


@pytest.mark.parametrize("name", ORDER)
def test_builds_each_policy_under_its_own_name_with_defaults(name):
    policy = build_policy(name)
    assert policy.name == name
    assert get_spec(name).defaults() == policy.params.model_dump()


@pytest.mark.parametrize("spec", policy_specs(), ids=lambda spec: spec.name)
def test_describes_every_parameter_with_a_default_and_a_description(spec):
    rows = spec.describe()
    assert rows and spec.summary
    assert all(description for _, _, _, description in rows)


@pytest.mark.parametrize(
    "name, overrides, field, value",
    [
        pytest.param("constantsize", {"size": 8}, "size", 8, id="constantsize size"),
        pytest.param("slo", {"slo_s": 5}, "slo_s", 5.0, id="slo objective"),
        pytest.param("queuerate", {"window": 3}, "window", 3, id="queuerate window"),
    ],
)
def test_builds_a_policy_with_overridden_parameters(name, overrides, field, value):
    policy = build_policy(name, overrides)
    assert getattr(policy.params, field) == value


def test_keeps_defaults_for_parameters_not_given():
    assert build_policy("slo", {"slo_s": 5}).params.boot_delay_s == 30.0


def test_rejects_an_unknown_policy_naming_the_known_ones():
    with pytest.raises(UnknownPolicy) as caught:
        build_policy("fastest")
    message = str(caught.value)
    assert "fastest" in message
    assert all(name in message for name in ORDER)


def test_rejects_an_unknown_parameter_naming_it_and_the_policy():
    with pytest.raises(ConfigurationError, match=r"policy 'slo': slo_seconds: Extra inputs"):
        build_policy("slo", {"slo_seconds": 2})


def test_gives_each_built_policy_its_own_memory():
    def waiting(ready):
        return Observation(
            now=0.0, interval_s=10.0, ready=ready, in_flight=0, arrival_rate=0.0,
            completion_rate=0.0, mean_service_s=None, mean_response_s=None, preparing=0,
            booting=0, running=2, draining=0, busy=2,
        )

    first, second = build_policy("queuesize"), build_policy("queuesize")
    first.decide(waiting(30))
    assert first.decide(waiting(25)).desired == 2  # shrinking since its own last look
    assert second.decide(waiting(25)).desired == 3  # its first look: grown from nothing
