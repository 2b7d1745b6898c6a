"""The README keeps its promises: the two commands come first, every summary key is documented."""

from __future__ import annotations

from pathlib import Path

from imgproc.core.metrics.summary import KEY_DOCS

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_opens_with_the_main_job_and_the_test_command():
    text = (ROOT / "README.md").read_text()
    block = text.split("```sh", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.strip()]
    assert "imgproc-tui --replay workloads/burst.jsonl" in lines[0]
    assert lines[1].startswith("scripts/test")


def test_ci_runs_the_readme_test_command():
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_every_summary_key_is_documented_in_the_readme():
    text = (ROOT / "README.md").read_text()
    missing = [key for key in KEY_DOCS if f"| `{key}` |" not in text]
    assert missing == []
