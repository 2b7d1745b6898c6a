"""Where job images are kept: a local directory, S3-compatible object storage, or memory,
each an :class:`~imgproc.core.ports.ObjectStore`, and the router that picks one by URL."""
