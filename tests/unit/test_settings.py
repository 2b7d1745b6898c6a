"""Settings come from flags over environment over a TOML file over defaults."""

from __future__ import annotations

import pytest

from imgproc.core.errors import ConfigurationError
from imgproc.settings import load_settings


def test_defaults_need_no_file_and_no_environment(monkeypatch):
    monkeypatch.delenv("IMGPROC_CONFIG", raising=False)
    settings = load_settings()
    assert settings.policy == "slo" and settings.slo_s == 2.0
    assert settings.sim.boot_delay_s == 30.0 and settings.scaler.interval_s == 10.0


def test_flags_beat_environment_which_beats_the_file(tmp_path, monkeypatch):
    config = tmp_path / "imgproc.toml"
    config.write_text('policy = "queuesize"\nslo_s = 3.0\n'
                      '[sim]\nboot_delay_s = 12\nrelease_delay_s = 1\n')
    monkeypatch.setenv("IMGPROC_SLO_S", "2.5")
    monkeypatch.setenv("IMGPROC_SIM__RELEASE_DELAY_S", "4")
    settings = load_settings(config, sim={"boot_delay_s": 7, "seed": None}, policy=None)
    assert settings.policy == "queuesize"
    assert settings.slo_s == 2.5
    assert settings.sim.release_delay_s == 4.0
    assert settings.sim.boot_delay_s == 7.0


def test_the_config_file_can_come_from_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('policy = "time"\n')
    monkeypatch.setenv("IMGPROC_CONFIG", str(config))
    assert load_settings().policy == "time"


def test_a_missing_config_file_is_named_in_the_error(tmp_path):
    with pytest.raises(ConfigurationError, match=r"nope\.toml: not found"):
        load_settings(tmp_path / "nope.toml")


def test_an_invalid_value_names_the_field_and_the_file(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("[scaler]\ninterval_s = -1\n")
    with pytest.raises(ConfigurationError) as err:
        load_settings(config)
    assert "scaler.interval_s" in str(err.value) and "bad.toml" in str(err.value)


def test_an_unknown_setting_is_rejected(tmp_path):
    config = tmp_path / "typo.toml"
    config.write_text("polcy = 'slo'\n")
    with pytest.raises(ConfigurationError, match="polcy"):
        load_settings(config)


def test_vms_get_a_boot_timeout_that_fits_a_vm_unless_one_is_given(monkeypatch):
    monkeypatch.delenv("IMGPROC_PROVIDER__BOOT_TIMEOUT_S", raising=False)
    assert load_settings(provider={"kind": "local"}).provider.boot_timeout_s == 300.0
    assert load_settings(provider={"kind": "vagrant"}).provider.boot_timeout_s == 600.0
    monkeypatch.setenv("IMGPROC_PROVIDER__BOOT_TIMEOUT_S", "450")
    assert load_settings(provider={"kind": "vagrant"}).provider.boot_timeout_s == 450.0


def test_a_providers_own_options_come_from_the_file_or_the_environment(tmp_path, monkeypatch):
    config = tmp_path / "imgproc.toml"
    config.write_text('[provider]\nkind = "vagrant"\n[provider.options]\nmemory_mb = 2048\n')
    monkeypatch.setenv("IMGPROC_PROVIDER__OPTIONS__CPUS", "2")
    settings = load_settings(config)
    assert settings.provider.options == {"memory_mb": 2048, "cpus": "2"}


def test_an_unknown_provider_or_option_is_an_error_that_names_it(monkeypatch):
    monkeypatch.delenv("IMGPROC_PROVIDER__OPTIONS__CPUS", raising=False)
    with pytest.raises(ConfigurationError, match="unknown provider 'cloud'; known: local"):
        load_settings(provider={"kind": "cloud"})
    with pytest.raises(ConfigurationError, match=r"provider vagrant: options\.memroy_mb"):
        load_settings(provider={"kind": "vagrant", "options": {"memroy_mb": 1}})
    with pytest.raises(ConfigurationError, match=r"options\.cpus"):
        load_settings(provider={"kind": "vagrant", "options": {"cpus": 0}})


def test_a_provider_option_set_where_it_used_to_be_says_where_it_goes_now():
    with pytest.raises(ConfigurationError,
                       match=r"max_booting: options of provider vagrant, now set under "
                             r"provider\.options"):
        load_settings(provider={"kind": "vagrant", "max_booting": 3})
