"""constantsize: start the missing workers, at most three at a time; never stop any."""

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.core.policies.constantsize import SPEC


@pytest.mark.parametrize(
    "fleet, expected",
    [
        pytest.param(dict(running=0), 3, id="an empty fleet asks for three at a time"),
        pytest.param(dict(running=1, booting=2), 4, id="no more than three start at once"),
        pytest.param(dict(running=2, booting=1), 5, id="starting workers count towards five"),
        pytest.param(dict(running=5), 5, id="five running are kept"),
        pytest.param(dict(running=7), 7, id="more than five are never stopped"),
    ],
)
def test_keeps_five_workers_by_default(observe, fleet, expected):
    assert SPEC.build().decide(observe(**fleet)).desired == expected


def test_rejects_a_size_below_one():
    with pytest.raises(ConfigurationError, match="size"):
        SPEC.build({"size": 0})
