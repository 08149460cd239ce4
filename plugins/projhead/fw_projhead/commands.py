"""Plugin commands: ``fw projhead theory``, ``fw projhead relu`` and ``fw projhead bench``."""

from __future__ import annotations

import click


@click.command('theory')
@click.option(
    '--layers',
    'n_layers',
    type=int,
    default=2,
    show_default=True,
    help='Number of trained linear layers L (closed form t^(l/2L) sigma^(1-l/L)).',
)
@click.option(
    '--kappa',
    'kappas',
    type=float,
    multiple=True,
    help='Also train one layer + the fixed re-weighting head with this kappa (repeatable).',
)
@click.option('--seeds', type=int, default=5, show_default=True, help='Number of seeds (0..n-1).')
@click.option(
    '--steps',
    type=int,
    default=None,
    help='Gradient steps (default: 40k for L = 2, 100k per extra layer).',
)
@click.option(
    '--minibatch',
    type=int,
    default=None,
    metavar='B',
    help='Minibatch SGD with batch B on 4,096 sampled inputs instead of full-batch GD on '
    'the population loss (the closed form holds only approximately then).',
)
@click.option(
    '--out',
    'out_dir',
    default='work_dirs/projhead/theory',
    show_default=True,
    help='Folder for theory.json and the PNG plots.',
)
@click.option('--no-plot', is_flag=True, help='Skip the matplotlib plots.')
def theory(n_layers, kappas, seeds, steps, minibatch, out_dir, no_plot):
    """Linear-network theory: learned vs closed-form layer-wise feature weights, with plots."""
    from .theory_report import run_theory

    if n_layers < 1:
        raise click.BadParameter('--layers must be >= 1')
    run_theory(
        n_layers=n_layers,
        kappas=kappas,
        seeds=tuple(range(seeds)),
        steps=steps,
        out_dir=out_dir,
        plot=not no_plot,
        log=click.echo,
        batch=minibatch,
    )


@click.command('relu')
@click.option('--seeds', type=int, default=1, show_default=True)
@click.option('--steps', type=int, default=3000, show_default=True)
def relu(seeds, steps):
    """ReLU net: a feature present in the lower layer (h) and absent from the higher one (z)."""
    from .theory_relu import run_relu

    for s in range(seeds):
        run_relu(seed=s, steps=steps, log=click.echo)


@click.command('bench', context_settings=dict(ignore_unknown_options=True, help_option_names=[]))
@click.argument('args', nargs=-1, type=click.UNPROCESSED)
def bench(args):
    """Pre- vs post-projection probe under the shift: every head and seed, side by side.

    Options: --configs, --seeds 0,1,2, --jobs N, --out DIR, --cfg-options KEY=VALUE, --json;
    `fw projhead bench --help` lists them.
    """
    from .bench import main

    main(list(args))
