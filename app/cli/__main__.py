"""``python -m imgproc.cli``: how the deployer starts workers and the console starts components."""

from imgproc.cli import main

main()
