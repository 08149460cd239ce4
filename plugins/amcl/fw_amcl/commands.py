"""``fw amcl compare``: the base-vs-AMCL benchmark (see :mod:`fw_amcl.benchmark`)."""
import click


@click.command(context_settings=dict(ignore_unknown_options=True, help_option_names=[]))
@click.argument('args', nargs=-1, type=click.UNPROCESSED)
def compare(args):
    """Train each base method with and without AMCL over seeds; print kNN / few-shot / probe table.

    Options are those of tools/bench/amcl_mnist5k.py (--dataset, --methods, --seeds, --epochs,
    --optimizer, --device, --jobs, --out); `fw amcl compare --help` lists them.
    """
    from fw_amcl.benchmark import main
    main(list(args))
