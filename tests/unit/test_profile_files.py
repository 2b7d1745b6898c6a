"""Profile files: the shipped ``local`` profile, files written and read back, and clear
errors for a profile that cannot be used (file, line, field)."""

from __future__ import annotations

import pytest

from imgproc.adapters.profile_files import read_profile, shipped_profiles, write_profile
from imgproc.core.errors import ConfigurationError
from imgproc.core.sim.costs import Profile


def test_the_local_profile_ships_with_imgproc():
    assert "local" in shipped_profiles()
    local = read_profile("local")
    assert local.provider == "local" and local.start_s > 0


def test_a_written_profile_reads_back_the_same(tmp_path):
    profile = Profile(name="mine", start_s=0.6, start_per_concurrent_s=0.05, dispatch_s=0.003,
                      job_overhead_s=0.002)
    path = tmp_path / "sub" / "mine.json"

    write_profile(path, profile)

    assert read_profile(str(path)) == profile
    assert [p.name for p in path.parent.iterdir()] == ["mine.json"]  # no temporary left


def test_a_profile_that_is_not_json_is_named_with_its_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x",\n  "start_s": ,\n}')

    with pytest.raises(ConfigurationError, match=r"bad\.json: line 2: not JSON"):
        read_profile(str(path))


def test_a_wrong_field_is_named(tmp_path):
    path = tmp_path / "neg.json"
    path.write_text('{"name": "x", "start_s": -1, "start_per_concurrent_s": 0, '
                    '"dispatch_s": 0, "job_overhead_s": 0, "extra": 1}')

    with pytest.raises(ConfigurationError) as caught:
        read_profile(str(path))
    assert "neg.json" in str(caught.value)
    assert "start_s: Input should be greater than or equal to 0" in str(caught.value)
    assert "extra: Extra inputs are not permitted" in str(caught.value)


def test_a_file_is_read_whatever_its_name_and_a_binary_one_is_refused(tmp_path, monkeypatch):
    profile = Profile(name="mine", start_s=0.6, start_per_concurrent_s=0.05, dispatch_s=0.003,
                      job_overhead_s=0.002)
    write_profile(tmp_path / "laptop", profile)
    (tmp_path / "blob.json").write_bytes(b"\xff\xfe\x00binary")
    monkeypatch.chdir(tmp_path)

    assert read_profile("laptop") == profile
    with pytest.raises(ConfigurationError, match=r"blob\.json: not text"):
        read_profile("blob.json")


def test_a_profile_that_cannot_be_written_says_where_and_why(tmp_path):
    (tmp_path / "file").write_text("")
    profile = Profile(name="x", start_s=0, start_per_concurrent_s=0, dispatch_s=0,
                      job_overhead_s=0)

    with pytest.raises(ConfigurationError, match=r"file/p\.json: cannot be written"):
        write_profile(tmp_path / "file" / "p.json", profile)


def test_an_unknown_name_lists_the_shipped_profiles_and_a_missing_file_says_so(tmp_path):
    with pytest.raises(ConfigurationError, match=r"'laptop'.*shipped: .*local"):
        read_profile("laptop")
    with pytest.raises(ConfigurationError, match=r"nothere\.json: cannot be read"):
        read_profile(str(tmp_path / "nothere.json"))
