"""The ``imgproc`` command: components and tools, one subcommand each."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="imgproc")
def main() -> None:
    """imgproc: image jobs on a self-scaling worker fleet."""


def _register() -> None:
    from imgproc.cli.box import box
    from imgproc.cli.broker import broker
    from imgproc.cli.calibrate import calibrate
    from imgproc.cli.compare import compare
    from imgproc.cli.fidelity import fidelity
    from imgproc.cli.job import job
    from imgproc.cli.live import deployer, scaler, submit, worker, zk
    from imgproc.cli.photos import photos
    from imgproc.cli.policies import policies
    from imgproc.cli.schema import schema
    from imgproc.cli.workload import workload

    main.add_command(workload)
    main.add_command(policies)
    main.add_command(compare)
    main.add_command(calibrate)
    main.add_command(fidelity)
    main.add_command(photos)
    main.add_command(box)
    main.add_command(broker)
    main.add_command(job)
    main.add_command(schema)
    for command in (worker, deployer, scaler, submit, zk):
        main.add_command(command)


_register()
