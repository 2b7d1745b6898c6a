"""The simulator's time series recorder: one row per sample, machines by state."""

from __future__ import annotations

from imgproc.core.machines import MachineState
from imgproc.core.metrics.record import SERIES_COLUMNS
from imgproc.core.sim.series import SeriesRecorder

S = MachineState


def counts(**by_state: int) -> dict[MachineState, int]:
    return {state: by_state.get(state.value, 0) for state in S}


def test_each_machine_state_is_counted_in_the_column_of_its_name():
    recorder = SeriesRecorder(1.0)
    recorder.sample(0.0, 0, 0, 0, 0, counts(preparing=1, booting=2, running=3, draining=4,
                                           destroying=5, destroyed=6, failed=7))
    row = {name: column[0] for name, column in recorder.build().columns.items()}
    assert (row["preparing"], row["booting"], row["running"], row["draining"],
            row["destroying"]) == (1, 2, 3, 4, 5)


def test_arrivals_and_completions_are_counted_per_step_and_the_queue_as_it_stands():
    recorder = SeriesRecorder(1.0)
    recorder.sample(1.0, 4, 2, 10, 3, counts())
    recorder.sample(2.0, 1, 1, 15, 9, counts())
    series = recorder.build()
    assert series.column("arrivals").tolist() == [10, 5]
    assert series.column("completions").tolist() == [3, 6]
    assert series.column("ready").tolist() == [4, 1]
    assert series.column("in_flight").tolist() == [2, 1]


def test_a_second_sample_at_the_same_time_is_not_a_row():
    recorder = SeriesRecorder(1.0)
    recorder.sample(1.0, 4, 2, 10, 3, counts(running=1))
    recorder.sample(1.0, 0, 0, 20, 20, counts(running=9))
    assert recorder.rows["t"] == [1.0] and recorder.rows["running"] == [1]


def test_the_rows_are_readable_while_the_run_goes_on_in_every_column():
    recorder = SeriesRecorder(1.0)
    recorder.sample(1.0, 4, 2, 10, 3, counts(booting=1))
    assert list(recorder.rows) == list(SERIES_COLUMNS)
    assert all(len(column) == 1 for column in recorder.rows.values())
