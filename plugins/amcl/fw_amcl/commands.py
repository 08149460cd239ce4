"""``fw amcl bench``: each base method with and without AMCL, side by side (see :mod:`fw_amcl.bench`)."""

import click


@click.command(context_settings=dict(ignore_unknown_options=True, help_option_names=[]))
@click.argument('args', nargs=-1, type=click.UNPROCESSED)
def bench(args):
    """Train each base method with and without AMCL over seeds; print the kNN / few-shot / probe table.

    Options: --dataset mnist5k|digits, --methods, --seeds, --epochs, --optimizer adam|sgd, --device,
    --jobs, --threads, --out FILE, --no-references, --json; `fw amcl bench --help` lists them.
    """
    from fw_amcl.bench import main

    main(list(args))
