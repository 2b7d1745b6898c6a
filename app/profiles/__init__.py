"""Profiles shipped with imgproc: what the live system costs, measured by ``imgproc calibrate``."""
