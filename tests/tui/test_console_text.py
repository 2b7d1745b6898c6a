"""How the console writes numbers and node data, searches paths and steps its speed."""

from __future__ import annotations

from imgproc.tui.app import next_speed
from imgproc.tui.text import duration, hexdump, moment, node_data, params
from imgproc.tui.widgets.search import matching


def test_durations_are_short_and_fixed_in_shape():
    assert [duration(s) for s in (0, 59.9, 61, 3599, 3725, -3)] == ["0s", "59s", "1m01s", "59m59s",
                                                                    "1h02m", "0s"]


def test_parameters_read_as_name_equals_value():
    assert params({"slo_s": 2.0, "size": 5, "x": None}) == "slo_s=2 size=5 x=None"


def test_node_times_are_dates_when_live_and_run_clock_times_on_the_simulator():
    assert moment(90.0) == "t=1m30s"
    assert moment(1_700_000_000.0) == "2023-11-14 22:13:20 UTC"


def test_node_data_is_json_pretty_printed_text_escaped_or_binary_dumped():
    assert node_data(b"") == ("empty", "(no data)")
    assert node_data(b'{"a":[1]}') == ("json", '{\n  "a": [\n    1\n  ]\n}')
    assert node_data("é\x1b[31m\nok".encode()) == ("text", "é\\x1b[31m\nok")
    kind, text = node_data(b"\xff\x00ab")
    assert kind == "binary" and text == "00000000  ff 00 61 62" + " " * 36 + "  |..ab|"


def test_a_hexdump_stops_at_its_limit():
    dump = hexdump(bytes(100), limit=32)
    assert dump.splitlines()[-1] == "... 68 more bytes" and len(dump.splitlines()) == 3


def test_search_matches_every_word_and_stops_at_the_limit():
    paths = [f"/imgproc/machines/m{i}" for i in range(300)] + ["/imgproc/workers/m1"]
    assert matching(paths, "WORKERS m1") == ["/imgproc/workers/m1"]
    assert len(matching(paths, "machines")) == 200


def test_speed_steps_along_a_ladder_and_stops_at_its_ends():
    assert next_speed(20, faster=True) == 50 and next_speed(20, faster=False) == 10
    assert next_speed(1000, faster=True) == 1000 and next_speed(0.25, faster=False) == 0.25
    assert next_speed(3, faster=True) == 5
