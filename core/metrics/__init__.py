"""Measuring a run: what happened to every job and machine, and the summary."""
