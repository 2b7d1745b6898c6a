"""imgproc: image jobs on a self-scaling worker fleet.

This top-level package holds the composition root, the settings and the
command line; the domain is in ``imgproc.core``, real systems in
``imgproc.adapters``, the console in ``imgproc.tui``.
"""

__version__ = "0.1.0"
