"""Plugin commands: ``fw projhead theory`` and ``fw projhead relu``."""
from __future__ import annotations

import click


@click.command('theory')
@click.option('--layers', 'n_layers', type=int, default=2, show_default=True,
              help='Number of trained linear layers L (closed form t^(l/2L) sigma^(1-l/L)).')
@click.option('--kappa', 'kappas', type=float, multiple=True,
              help='Also train one layer + the fixed reweighting head with this kappa (repeatable).')
@click.option('--seeds', type=int, default=5, show_default=True, help='Number of seeds (0..n-1).')
@click.option('--steps', type=int, default=None, help='GD steps (default: spec §10 schedule).')
@click.option('--out', 'out_dir', default='work_dirs/projhead/theory', show_default=True,
              help='Folder for theory.json and the PNG plots.')
@click.option('--no-plot', is_flag=True, help='Skip the matplotlib plots.')
def theory(n_layers, kappas, seeds, steps, out_dir, no_plot):
    """Linear-network theory: learned vs closed-form layer-wise feature weights, with plots."""
    from .theory_report import run_theory
    if n_layers < 1:
        raise click.BadParameter('--layers must be >= 1')
    run_theory(n_layers=n_layers, kappas=kappas, seeds=tuple(range(seeds)), steps=steps,
               out_dir=out_dir, plot=not no_plot, log=click.echo)


@click.command('relu')
@click.option('--seeds', type=int, default=1, show_default=True)
@click.option('--steps', type=int, default=3000, show_default=True)
def relu(seeds, steps):
    """ReLU net: a feature present in the lower layer (h) and absent from the higher one (z)."""
    from .theory_relu import run_relu
    for s in range(seeds):
        run_relu(seed=s, steps=steps, log=click.echo)
