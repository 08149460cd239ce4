"""``fw wiclp generate | binding | bench``: thin click wrappers."""

from __future__ import annotations

import json

import click


@click.command()
@click.argument('config')
@click.argument('prompt')
@click.option(
    '--ckpt',
    'ckpts',
    multiple=True,
    help='checkpoint of `fw train wiclp` (its projector is used); repeat with --compare',
)
@click.option('--out', default='wiclp_samples', show_default=True, help='output folder')
@click.option('--seeds', default='0,1,2,3', show_default=True, help='noise seeds, comma list')
@click.option('--switch-off-t', type=int, default=None, help="T_s (default: the config's)")
@click.option('--steps', type=int, default=None, help="sampling steps (default: the config's)")
@click.option(
    '--compare',
    is_flag=True,
    help='labelled grid: same seeds without projection and with each --ckpt',
)
@click.option('--scale', type=int, default=None, help='upscale factor of the PNGs (nearest)')
def generate(config, prompt, ckpts, out, seeds, switch_off_t, steps, compare, scale):
    """Write PNGs of PROMPT sampled from CONFIG's model (with the projector of --ckpt)."""
    from .generate import run

    paths = run(
        config,
        prompt,
        ckpts,
        out,
        [int(s) for s in seeds.split(',')],
        switch_off_t,
        steps,
        compare,
        scale,
    )
    for p in paths:
        click.echo(p)


@click.command()
@click.option('--out', default='work_dirs/wiclp/binding', show_default=True)
@click.option('--seeds', default='0,1,2', show_default=True, help='stage-B seeds, comma list')
@click.option('--arms', default='clp,wiclp', show_default=True, help='clp, wiclp, wiclp3')
@click.option('--steps', type=int, default=None, help="stage-B steps (default: the configs')")
@click.option('--samples', type=int, default=4, show_default=True, help='images per prompt')
@click.option('--json', 'as_json', is_flag=True, help='print the summary as JSON')
def binding(out, seeds, arms, steps, samples, as_json):
    """Shapes attribute binding: base vs CLP vs WiCLP over seeds (paired noise, judge scores)."""
    from .experiment import main, table

    summary = main(out, [int(s) for s in seeds.split(',')], arms.split(','), steps, samples)
    click.echo(json.dumps(summary, indent=1) if as_json else table(summary))


@click.command()
@click.option('--json', 'as_json', is_flag=True, help='print JSON')
@click.option('--repeats', type=int, default=3, show_default=True)
def bench(as_json, repeats):
    """Projector cost: parameters (SD 1.x / 2.x widths) and sampling time ratio vs no projection."""
    from .bench import run

    result = run(repeats)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for key, value in result.items():
            click.echo(f'{key:40s} {value}')
