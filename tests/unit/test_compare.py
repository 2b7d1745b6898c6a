"""``imgproc compare``: the oracle's rows, costs against oracle-95, replications with
confidence intervals, generated traces, and the fleet a run starts with."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from imgproc.cli import main as imgproc
from imgproc.cli.compare import parse_generate
from imgproc.cli.fidelity import one_experiment
from imgproc.compare import compare, oracle_model, replicate, summarise_runs
from imgproc.core.errors import ConfigurationError
from imgproc.core.jobs import Job
from imgproc.core.sim.costs import LiveCosts
from imgproc.core.trace import Trace
from imgproc.core.workload_gen import GeneratorSpec, generate
from imgproc.settings import Settings

SPEC = GeneratorSpec(shape="on-off", duration_s=240, rate=2, seed=4)


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def early_trace() -> Trace:
    """Jobs from the first second on: only machines running at 0 serve them in time."""
    return Trace.from_jobs("early", [Job(f"j{i}", float(i), 0.5) for i in range(40)])


# ---- the oracle's rows and the ratios -----------------------------------------------------


def test_each_trace_starts_with_the_oracle_rows_then_one_row_per_policy():
    rows = compare(settings(), [generate(SPEC)], ["constantsize", "slo"]).rows
    assert [r["policy"] for r in rows] == ["oracle-100", "oracle-95", "constantsize", "slo"]
    assert {r["backend"] for r in rows[:2]} == {"oracle"}
    assert rows[0]["slo_met_share"] >= rows[1]["slo_met_share"] >= 0.95
    assert rows[0]["scaling_actions"] is None and rows[0]["a_u"] is None


def test_every_row_has_its_cost_and_vm_seconds_as_ratios_of_oracle_95():
    rows = compare(settings(), [generate(SPEC)], ["constantsize"]).rows
    reference = rows[1]
    assert reference["cost_vs_oracle95"] == reference["vm_seconds_vs_oracle95"] == 1.0
    policy = rows[2]
    assert policy["cost_vs_oracle95"] == round(
        policy["billed_seconds"] / reference["billed_seconds"], 4)
    assert policy["vm_seconds_vs_oracle95"] == round(
        policy["vm_seconds"] / reference["vm_seconds"], 4)


def test_the_oracle_boots_stops_and_keeps_a_floor_as_the_simulator_of_the_settings():
    costs = LiveCosts(start_s=2.0, start_per_concurrent_s=1.0, stop_s=0.5, dispatch_s=0.1,
                      job_overhead_s=0.01)
    model = oracle_model(settings(sim={"boot_delay_s": 20.0, "release_delay_s": 3.0,
                                       "costs": costs, "warm_start": False},
                                  scaler={"min_workers": 2}, slo_s=1.5))
    assert (model.boot_s, model.release_s, model.dispatch_s, model.overhead_s) == (
        22.0, 3.5, 0.1, 0.01)
    assert (model.floor, model.warm, model.slo_s) == (2, False, 1.5)


def test_a_warm_start_lets_the_oracle_serve_the_first_jobs_in_time_and_a_cold_one_not():
    warm = compare(settings(), [early_trace()], []).rows[0]
    cold = compare(settings(sim={"warm_start": False}), [early_trace()], []).rows[0]
    assert warm["slo_met_share"] == 1.0
    assert cold["slo_met_share"] < 1.0


def test_a_trace_without_service_times_is_refused_with_its_name():
    trace = Trace.from_jobs("ops", [Job("a", 0.0, None)])
    with pytest.raises(ConfigurationError, match="trace ops"):
        compare(settings(), [trace], ["slo"])


# ---- replications -------------------------------------------------------------------------


def test_replications_report_the_mean_of_the_runs_and_a_confidence_interval():
    result = replicate(settings(), [], [SPEC], ["constantsize"], seeds=3)
    runs = [compare(settings(sim={"seed": k}), [generate(SPEC.model_copy(update={"seed": 4 + k}))],
                    ["constantsize"]).rows for k in range(3)]
    assert [r["policy"] for r in result.rows] == ["oracle-100", "oracle-95", "constantsize"]
    for row, *same in zip(result.rows, *runs, strict=True):
        assert row["replications"] == 3
        assert row["vm_seconds"] == pytest.approx(sum(r["vm_seconds"] for r in same) / 3)
    assert result.rows[2]["ci95"]["jobs_submitted"] > 0  # each run drew its own trace


def test_one_run_is_reported_as_it_is():
    once = replicate(settings(), [], [SPEC], ["constantsize"], seeds=1).rows
    assert once == compare(settings(), [generate(SPEC)], ["constantsize"]).rows


def test_summarised_runs_keep_equal_text_and_leave_out_what_is_missing_in_a_run():
    runs = [[{"trace": "t", "policy": "p", "x": 1.0, "y": None}],
            [{"trace": "t", "policy": "p", "x": 3.0, "y": 2.0}]]
    [row] = summarise_runs(runs)
    assert (row["trace"], row["policy"], row["x"], row["y"]) == ("t", "p", 2.0, None)
    assert set(row["ci95"]) == {"x"} and row["replications"] == 2


# ---- the command ---------------------------------------------------------------------------


def test_generate_takes_the_workload_generate_options_with_its_defaults():
    spec = parse_generate("shape=flash-crowd, peak-factor=4,service_mean=0.5,seed=9")
    assert (spec.shape, spec.flash_peak_factor, spec.service_mean_s, spec.seed) == (
        "flash-crowd", 4.0, 0.5, 9)
    assert (spec.duration_s, spec.rate) == (1200.0, 5.0)


@pytest.mark.parametrize(("text", "message"), [
    ("shape=on-off,speed=3", "expected KEY=VALUE with KEY one of shape, duration"),
    ("shape", "expected KEY=VALUE"),
    ("rate=fast", "rate: expected a number, got 'fast'"),
    ("seed=1.5", "seed: expected a whole number"),
    ("rate=-1", "rate: Input should be greater than 0"),
    ("shape=on-off,peak-factor=3", "flash_peak_factor applies only to 'flash-crowd'"),
])
def test_a_bad_generate_spec_says_what_was_expected(text, message):
    with pytest.raises(click.BadParameter, match=message):
        parse_generate(text)


def test_the_command_prints_replications_as_json_with_their_intervals():
    result = CliRunner().invoke(imgproc, [
        "compare", "--generate", "shape=on-off,duration=240,rate=2", "--seeds", "2",
        "--policies", "constantsize", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["policy"] for r in rows] == ["oracle-100", "oracle-95", "constantsize"]
    assert all(r["replications"] == 2 and "vm_seconds" in r["ci95"] for r in rows)


def test_the_table_shows_the_cost_against_oracle_95_and_the_intervals():
    result = CliRunner().invoke(imgproc, [
        "compare", "--generate", "shape=on-off,duration=240,rate=2", "--seeds", "2",
        "--policies", "constantsize"])
    assert result.exit_code == 0, result.output
    assert "x o95" in result.output and "±" in result.output
    assert "warm start" in result.output and "2 runs" in result.output


def test_cold_start_reaches_the_runs(tmp_path):
    trace = tmp_path / "early.jsonl"
    trace.write_text("".join(f'{{"id": "j{i}", "at": {i}, "service_s": 0.5}}\n'
                             for i in range(40)))
    shares = {}
    for flags in ([], ["--cold-start"]):
        result = CliRunner().invoke(imgproc, ["compare", str(trace), "--policies",
                                              "constantsize", "--json", *flags])
        assert result.exit_code == 0, result.output
        shares[bool(flags)] = {row["policy"]: row["slo_met_share"]
                               for row in json.loads(result.stdout)}
    # started cold, the first jobs wait for a boot, in the oracle's plan and in the policy's
    for policy in ("oracle-100", "constantsize"):
        assert shares[False][policy] == 1.0 and shares[True][policy] < 1.0, shares


def test_without_traces_or_specs_the_command_says_what_it_needs():
    result = CliRunner().invoke(imgproc, ["compare"])
    assert result.exit_code == 2 and "give trace files, --generate specs, or both" in result.output


def test_two_generated_traces_of_one_name_are_refused():
    result = CliRunner().invoke(imgproc, ["compare", "--generate", "shape=on-off",
                                          "--generate", "shape=on-off,seed=2"])
    assert result.exit_code == 2 and "give each generated one its own name=" in result.output


def test_fidelity_simulates_the_cold_start_of_the_live_replay_with_its_boot_delay():
    both = one_experiment(settings(sim={"boot_delay_s": 12.0}))
    assert both.sim.warm_start is False and both.provider.boot_delay_s == 12.0
