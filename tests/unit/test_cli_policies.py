"""``imgproc policies``: every policy, numbered, with its parameters; or JSON."""

import json

from click.testing import CliRunner

from imgproc.cli.policies import policies
from imgproc.core.policies import policy_names


def test_lists_every_policy_numbered_in_registry_order():
    result = CliRunner().invoke(policies, [])
    assert result.exit_code == 0, result.output
    positions = [result.output.index(f"{n}. {name}") for n, name in enumerate(policy_names(), 1)]
    assert positions == sorted(positions)


def test_shows_each_parameter_with_its_default():
    result = CliRunner().invoke(policies, [])
    for text in ("parameter", "default", "description", "slo_s", "2.0", "cooldown_s", "60.0"):
        assert text in result.output


def test_prints_the_same_as_json_with_the_json_flag():
    result = CliRunner().invoke(policies, ["--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [p["name"] for p in listed] == policy_names()
    assert [p["number"] for p in listed] == list(range(1, len(listed) + 1))
    slo = listed[-1]
    assert slo["summary"]
    assert {"name": "slo_s", "type": "float", "default": 2.0,
            "description": "response-time objective (s)"} in slo["params"]
