"""The operator console, imgproc-tui, and its headless replay mode."""
