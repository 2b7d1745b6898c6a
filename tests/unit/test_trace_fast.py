"""The fast path for reading trace files agrees with the exact one, line by line.

The exact path is the reader as it was before the fast one: the file opened as UTF-8
text and each line given to :func:`parse_trace`. For a valid file both give the same
trace (bit for bit); for an invalid one, the same errors, and with ``skip_invalid`` the
same trace and the same skipped lines; in both of our formats.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgproc.adapters.trace_files import read_trace
from imgproc.core.errors import ConfigurationError, TraceValidationFailed
from imgproc.core.trace import Trace
from imgproc.core.trace_fast import fast_trace, parse_trace_data
from imgproc.core.trace_format import ParsedTrace, parse_trace
from imgproc.core.validation import MAX_SERVICE_S, MAX_TRACE_S

REPO = Path(__file__).resolve().parents[2]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
OPS = st.sampled_from([
    [{"op": "thumbnail", "size": 64}],
    [{"op": "grayscale"}, {"op": "rotate", "degrees": -90.5}],
    [{"op": "convert", "format": "webp"}],
])
NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


def exact(path: Path, skip_invalid: bool = False) -> ParsedTrace:
    """The reader as it was: the file as UTF-8 text, line by line."""
    with open(path, encoding="utf-8") as handle:
        return parse_trace(handle, source=str(path), skip_invalid=skip_invalid)


def assert_same_trace(a: Trace, b: Trace) -> None:
    assert (a.name, a.ids, a.users, a.extras) == (b.name, b.ids, b.users, b.extras)
    for x, y in ((a.arrival_s, b.arrival_s), (a.service_s, b.service_s)):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


def outcome(read, path: Path, skip_invalid: bool = False) -> tuple:
    """What a reader made of ``path``: its trace and skipped lines, or its error's text."""
    try:
        parsed = read(path, skip_invalid=skip_invalid)
    except (TraceValidationFailed, ConfigurationError, UnicodeDecodeError) as exc:
        return ("error", type(exc).__name__, str(exc))
    return ("trace", parsed.trace, [str(e) for e in parsed.skipped])


def assert_both_paths_agree(path: Path) -> None:
    for skip in (False, True):
        new, old = outcome(read_trace, path, skip), outcome(exact, path, skip)
        if old[0] == "error" and old[1] == "UnicodeDecodeError":
            assert new[:2] == ("error", "ConfigurationError") and "not UTF-8" in new[2]
            continue
        assert new[0] == old[0] and new[2] == old[2]
        if new[0] == "trace":
            assert_same_trace(new[1], old[1])
        else:
            assert new[1] == old[1]


def number_text(value: float) -> st.SearchStrategy[str]:
    """``value`` as JSON writes it, as an integer when it is one, or with extra digits."""
    forms = [json.dumps(value), f"{value:.17e}", f"{value:.25g}"]
    if value.is_integer():
        forms.append(str(int(value)))
    return st.sampled_from(forms)


@st.composite
def our_line(draw: st.DrawFn, job_id: str, at: float) -> str:
    fields: dict[str, str] = {"id": json.dumps(job_id), "at": draw(number_text(at))}
    ops = draw(st.none() | OPS)
    if ops is not None:
        fields["ops"] = json.dumps(ops)
        fields["input"], fields["output"] = json.dumps("in/a.jpg"), json.dumps("out/a.jpg")
    elif draw(st.booleans()):
        fields["input"] = json.dumps(draw(TEXT))
    service = draw(st.floats(0, MAX_SERVICE_S))
    if ops is None or draw(st.booleans()):
        fields["service_s"] = draw(number_text(service))
    elif draw(st.booleans()):
        fields["service_s"] = "null"
    if draw(st.booleans()):
        fields["user"] = json.dumps(draw(TEXT), ensure_ascii=draw(st.booleans()))
    keys = draw(st.permutations(list(fields)))
    space = draw(st.sampled_from(["", " ", "\t"]))
    body = f",{space}".join(f"{json.dumps(k)}:{space}{fields[k]}" for k in keys)
    return f"{space}{{{body}}}{space}"


@st.composite
def our_files(draw: st.DrawFn) -> str:
    ids = draw(st.lists(TEXT, max_size=12, unique=True))
    arrivals = sorted(draw(st.lists(st.floats(0, MAX_TRACE_S), min_size=len(ids),
                                    max_size=len(ids))))
    lines = [draw(our_line(i, a)) for i, a in zip(ids, arrivals, strict=True)]
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", "  ", "\t"])))
    return draw(NEWLINES).join(lines) + draw(st.sampled_from(["", "\n"]))


@st.composite
def seed_files(draw: st.DrawFn) -> str:
    micros = st.floats(0, 1e9)
    lines = [json.dumps({"user_id": draw(TEXT), "image_path": draw(st.text(max_size=5)),
                         "size": draw(micros), "submitTime": draw(st.none() | micros),
                         "jobInterupt": draw(micros)})
             for _ in range(draw(st.integers(1, 12)))]
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(1, len(lines))), "")
    return draw(NEWLINES).join(lines)


TRACE_FILE = settings(max_examples=150, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture])


@TRACE_FILE
@given(text=our_files())
def test_a_valid_file_of_ours_is_read_by_the_fast_path_as_the_exact_path_reads_it(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "ours.jsonl"
    path.write_bytes(text.encode("utf-8"))
    fast = fast_trace(path.read_bytes(), str(path))
    assert fast is not None
    assert_same_trace(fast, exact(path).trace)


@TRACE_FILE
@given(text=seed_files())
def test_a_valid_seed_log_is_read_by_the_fast_path_as_the_exact_path_reads_it(
    tmp_path: Path, text: str
) -> None:
    path = tmp_path / "burstWorkload.log"
    path.write_bytes(text.encode("utf-8"))
    fast = fast_trace(path.read_bytes(), str(path))
    assert fast is not None
    assert_same_trace(fast, exact(path).trace)


@pytest.mark.parametrize("name", ["burst.jsonl", "normal.jsonl", "thumbnails.jsonl",
                                  "seed/burstWorkload.log", "seed/normalWorkload.log"])
def test_the_shipped_workloads_are_read_by_the_fast_path_as_before(name: str) -> None:
    path = REPO / "workloads" / name
    fast = fast_trace(path.read_bytes(), str(path))
    assert fast is not None
    assert_same_trace(fast, exact(path).trace)


GOOD = '{"id": "a", "at": 0.5, "service_s": 0.2, "user": "u"}'
SEED = ('{"user_id": "u", "image_path": "p", "size": 2e5, "submitTime": null, '
        '"jobInterupt": 2e5}')
#: Lines the exact path rejects, each with what is at stake; the fast path must too.
BAD_LINES = {
    "not json": '{"id": "b", "at": 1,',
    "not an object": "[1, 2]",
    "a NaN": '{"id": "b", "at": NaN, "service_s": 1}',
    "an infinity": '{"id": "b", "at": 1, "service_s": Infinity}',
    "a number past a float": '{"id": "b", "at": 1e400, "service_s": 1}',
    "an integer past the bound": '{"id": "b", "at": 100000000000000000000000, "service_s": 1}',
    "a quoted number": '{"id": "b", "at": "1", "service_s": 1}',
    "a boolean": '{"id": "b", "at": 1, "service_s": true}',
    "a negative time": '{"id": "b", "at": -0.1, "service_s": 1}',
    "a month and a second": f'{{"id": "b", "at": 1, "service_s": {MAX_SERVICE_S + 1}}}',
    "no service time": '{"id": "b", "at": 1}',
    "a null service time": '{"id": "b", "at": 1, "service_s": null}',
    "a null user": '{"id": "b", "at": 1, "service_s": 1, "user": null}',
    "an empty id": '{"id": "", "at": 1, "service_s": 1}',
    "a number for an id": '{"id": 7, "at": 1, "service_s": 1}',
    "an id of 201 characters": json.dumps({"id": "😀" * 201, "at": 1, "service_s": 1}),
    "an unknown field": '{"id": "b", "at": 1, "service_s": 1, "colour": "red"}',
    "null ops": '{"id": "b", "at": 1, "service_s": 1, "ops": null}',
    "ops without paths": '{"id": "b", "at": 1, "ops": [{"op": "grayscale"}]}',
    "a bad op": '{"id": "b", "at": 1, "ops": [{"op": "blur"}], "input": "i", "output": "o"}',
    "a repeated id": '{"id": "a", "at": 1, "service_s": 1}',
    "an arrival out of order": '{"id": "b", "at": 0.25, "service_s": 1}',
    "a byte order mark": '\ufeff{"id": "b", "at": 1, "service_s": 1}',
    "a seed line among ours": SEED,
    "an escaped lone surrogate": '{"id": "\\ud800", "at": 1, "service_s": 1}',
}
#: Lines the exact path takes and msgspec does not: the fast path leaves them to it.
LINES_FOR_THE_EXACT_PATH = {
    "a unit separator around a line": '\x1f{"id": "b", "at": 1, "service_s": 1}\x1c',
    "a line of unit separators only": "\x1f\x1c",
    "a form feed after a line": '{"id": "b", "at": 1, "service_s": 1}\x0c',
}


def file_with(tmp_path: Path, line: str, where: str) -> Path:
    """``line`` second or last of three, after a good line."""
    lines = [GOOD, line, '{"id": "c", "at": 2, "service_s": 1}']
    if where == "last":
        lines = [GOOD, '{"id": "c", "at": 2, "service_s": 1}', line.replace('"at": 1', '"at": 3')]
    path = tmp_path / "t.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8"))
    return path


@pytest.mark.parametrize("line", list(BAD_LINES.values()), ids=list(BAD_LINES))
@pytest.mark.parametrize("where", ["second", "last"])
def test_a_line_the_exact_path_rejects_is_reported_as_before(
    tmp_path: Path, line: str, where: str
) -> None:
    path = file_with(tmp_path, line, where)
    with pytest.raises(TraceValidationFailed) as caught:
        exact(path)
    assert [e.line for e in caught.value.errors] == [2 if where == "second" else 3]
    assert_both_paths_agree(path)


@pytest.mark.parametrize("line", list(LINES_FOR_THE_EXACT_PATH.values()),
                         ids=list(LINES_FOR_THE_EXACT_PATH))
@pytest.mark.parametrize("where", ["second", "last"])
def test_a_line_only_the_exact_path_takes_is_left_to_it(
    tmp_path: Path, line: str, where: str
) -> None:
    path = file_with(tmp_path, line, where)
    assert fast_trace(path.read_bytes(), str(path)) is None
    exact(path)  # takes it
    assert_both_paths_agree(path)


@pytest.mark.parametrize("line", [
    SEED.replace("2e5, ", "-1, ", 1),
    SEED.replace('"u"', '""'),
    SEED.replace("null", "Infinity"),
    SEED.replace("null", "1e400"),
    SEED.replace('"p"', "3"),
    SEED.replace("}", ', "extra": 1}'),
    SEED.replace('"jobInterupt": 2e5', '"jobInterupt": 2e13'),
    GOOD,
], ids=["negative size", "empty user", "infinite submit time", "submit time past a float",
        "a number for a path", "unknown field", "a clock past a year", "a line of ours"])
def test_a_seed_log_with_a_bad_line_reads_as_before(tmp_path: Path, line: str) -> None:
    path = tmp_path / "seed.log"
    path.write_text("\n".join([SEED, line, SEED, SEED.replace("2e5}", "2e13}")]), "utf-8")
    assert_both_paths_agree(path)


def test_a_file_that_is_not_utf8_is_refused_whatever_the_path(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"id": "a", "at": 0, "service_s": 1, "ops": ["\xe9"]}\n')
    with pytest.raises(UnicodeDecodeError):
        parse_trace_data(path.read_bytes(), str(path))
    assert_both_paths_agree(path)


def test_an_empty_file_is_an_empty_trace_named_after_it(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    trace = fast_trace(path.read_bytes(), str(path))
    assert trace is not None and len(trace) == 0 and trace.name == "empty"
    assert_both_paths_agree(path)


def test_a_job_without_service_time_is_kept_as_nan_when_it_has_ops(tmp_path: Path) -> None:
    line = '{"id": "a", "at": 0, "ops": [{"op": "grayscale"}], "input": "i", "output": "o"}'
    trace = fast_trace(line.encode(), "x.jsonl")
    assert trace is not None and math.isnan(trace.service_s[0])
    assert np.array_equal(trace.arrival_s, [0.0]) and trace.job(0).input == "i"
