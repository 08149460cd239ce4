"""``fw lmhead_decode atlas | find | clamp | compare | bench`` (thin click wrappers; ``--json``
prints one JSON object on stdout)."""

from __future__ import annotations

import json

import click

from framework import FwError

PROMPTS = ('Tell me a short story.', 'Describe your ideal day.')


def _log(msg):
    click.echo(msg, err=True)


def _emit(result: dict, as_json: bool, lines):
    if as_json:
        click.echo(json.dumps(result))
    else:
        for line in lines:
            click.echo(line)


def _threads(threads):
    if threads:
        import torch

        torch.set_num_threads(threads)


def _layers(text):
    return None if text in (None, '', 'all') else [int(x) for x in text.split(',')]


@click.command('atlas')
@click.argument('model')
@click.argument('out')
@click.option(
    '--matrix', type=click.Choice(['up', 'gate', 'down']), default='up', show_default=True
)
@click.option(
    '--variant',
    default='A',
    show_default=True,
    help='A plain, B final-norm, C read-direction; a comma list decodes several',
)
@click.option('--scale', default='raw', show_default=True, help='raw | unit | rms:<s>')
@click.option('--k', 'k', type=int, default=10, show_default=True, help='labels per neuron')
@click.option('--chunk', type=int, default=256, show_default=True, help='rows per matmul')
@click.option('--tau', type=float, default=1.0, show_default=True)
@click.option('--layers', default=None, help='comma list (default: all)')
@click.option(
    '--dtype', type=click.Choice(['float32', 'float64']), default='float32', show_default=True
)
@click.option('--device', default='cpu', show_default=True)
@click.option('--jsonl', is_flag=True, help='also write the decoded strings, one neuron a line')
@click.option('--threads', type=int, default=None, help='torch threads')
@click.option('--json', 'as_json', is_flag=True, help='print one JSON object')
def atlas(
    model,
    out,
    matrix,
    variant,
    scale,
    k,
    chunk,
    tau,
    layers,
    dtype,
    device,
    jsonl,
    threads,
    as_json,
):
    """Decode every neuron of MODEL (HF dir, .gguf, 'smollm2', or a decode config) into OUT."""
    from .atlas import build_atlas, decoder_from_config, load_atlas, summary

    _threads(threads)
    cfg_decoder = decoder_from_config(model)
    results = []
    for v in variant.split(','):
        spec = dict(
            cfg_decoder
            or dict(
                model=model,
                matrix=matrix,
                scale=scale,
                k=k,
                chunk=chunk,
                tau=tau,
                layers=_layers(layers),
                dtype=dtype,
                device=device,
            )
        )
        if not cfg_decoder:
            spec['variant'] = v
        _log(
            f'decoding {spec.get("model")} {spec.get("matrix", "up")} variant '
            f'{spec.get("variant", "A")} ...'
        )
        meta = build_atlas(spec, out, jsonl=jsonl)
        res = summary(load_atlas(out, meta['matrix'], meta['variant']))
        results.append(dict(out=str(out), **res))
        if cfg_decoder:
            break
    lines = [
        f'{r["file"]}: {r["neurons"]} neurons in {r["seconds"]} s; {r["distinct_top1"]} '
        f'distinct top-1 tokens; median p_top1 {r["median_p_top1"]:.3g}; most frequent '
        f'top-1: {r["most_frequent_top1"][:5]}'
        for r in results
    ]
    _emit(results[0] if len(results) == 1 else dict(decodes=results), as_json, lines)


@click.command('find')
@click.argument('word')
@click.option(
    '--atlas',
    'atlas_dir',
    default=None,
    help='atlas directory (default: the cached atlas of --model, built on first use)',
)
@click.option('--model', default='smollm2', show_default=True)
@click.option('--matrix', default=None, help='pick a decode of the atlas (default up)')
@click.option('--variant', default=None, help='pick a decode of the atlas (default A)')
@click.option(
    '--top',
    type=int,
    default=1,
    show_default=True,
    help='search the top-N labels (widened to all k when top-1 finds nothing)',
)
@click.option('--exact', is_flag=True, help="match this exact token string (e.g. ' dog')")
@click.option('--sort', type=click.Choice(['p', 'margin']), default='p', show_default=True)
@click.option('--min-margin', type=float, default=None, help='display filter on z1 - z2')
@click.option('--limit', type=int, default=20, show_default=True)
@click.option('--json', 'as_json', is_flag=True)
def find(word, atlas_dir, model, matrix, variant, top, exact, sort, min_margin, limit, as_json):
    """Neurons whose decoded top tokens are WORD (any spelling: ' dog', 'Dog', ' dogs')."""
    from .atlas import default_atlas, load_atlas

    path = atlas_dir or default_atlas(model, log=_log)
    at = load_atlas(path, matrix, variant)
    hits = at.find(word, top=top, exact=exact, sort=sort, limit=10**9)
    widened = False
    if not hits and top < at.meta['k']:
        hits, widened = at.find(word, top=at.meta['k'], exact=exact, sort=sort, limit=10**9), True
    if min_margin is not None:
        hits = [h for h in hits if h['margin'] >= min_margin]
    spellings = sorted({at.vocab[i] for i in at.token_ids(word, exact)})
    res = dict(
        word=word,
        atlas=str(path),
        matrix=at.meta['matrix'],
        variant=at.meta['variant'],
        scale=at.meta['scale'],
        spellings=spellings,
        searched_top=at.meta['k'] if widened else top,
        total=len(hits),
        neurons=hits[:limit],
    )
    lines = [
        f"'{word}' ({', '.join(repr(s) for s in spellings) or 'no such token'}): "
        f'{len(hits)} neurons with it in their top-{res["searched_top"]} '
        f'(matrix {res["matrix"]}, variant {res["variant"]})'
    ]
    lines += [
        f'  layer {h["layer"]:>3} neuron {h["neuron"]:>6}  rank {h["rank"]}  {h["token"]!r}  '
        f'p={h["p"]:.3g}  margin={h["margin"]:.3f}  top: {h["top"]}'
        for h in hits[:limit]
    ]
    _emit(res, as_json, lines)


def _neuron(text):
    try:
        layer, index = text.split(':')
        return int(layer), int(index)
    except ValueError:
        raise FwError(f"neuron '{text}': write LAYER:INDEX, e.g. 21:86") from None


@click.command('clamp')
@click.argument('model')
@click.argument('neurons', nargs=-1, required=True)
@click.option(
    '--token', default=None, help="target token string (default: each neuron's decoded top-1)"
)
@click.option(
    '--kappa',
    default='5,20',
    show_default=True,
    help='clamp values in units of max|a_i| on calibration text (0 = off is added)',
)
@click.option(
    '--sign',
    type=click.Choice(['auto', '+', '-', 'opposite']),
    default='auto',
    show_default=True,
    help='auto raises the direct logit of the token',
)
@click.option(
    '--hook',
    type=click.Choice(['b', 'a']),
    default='b',
    show_default=True,
    help='b: down_proj input (activation); a: up_proj output',
)
@click.option('--variant', default='A', show_default=True, help='decode variant for the label')
@click.option('--prompt', 'prompts', multiple=True, help='prompt(s) (chat template if any)')
@click.option('--new-tokens', type=int, default=12, show_default=True)
@click.option('--calib-tokens', type=int, default=512, show_default=True)
@click.option(
    '--control/--no-control',
    default=True,
    show_default=True,
    help='also clamp a random neuron of the same layer',
)
@click.option(
    '--samples',
    type=int,
    default=0,
    show_default=True,
    help='sampled answers to --scenario with and without the clamp (temperature 0.7)',
)
@click.option('--scenario', default='What is your favourite animal?', show_default=True)
@click.option('--seed', type=int, default=0, show_default=True)
@click.option('--threads', type=int, default=None)
@click.option('--json', 'as_json', is_flag=True)
def clamp(
    model,
    neurons,
    token,
    kappa,
    sign,
    hook,
    variant,
    prompts,
    new_tokens,
    calib_tokens,
    control,
    samples,
    scenario,
    seed,
    threads,
    as_json,
):
    """Clamp NEURONS (LAYER:INDEX ...) of MODEL during generation: p(concept) before/after."""
    from .clamp import clamp_study

    _threads(threads)
    res = clamp_study(
        model,
        [_neuron(n) for n in neurons],
        token=token,
        kappas=[float(x) for x in kappa.split(',')],
        sign=sign,
        hook=hook,
        variant=variant,
        prompts=list(prompts) or list(PROMPTS),
        new_tokens=new_tokens,
        calib_tokens=calib_tokens,
        control=control,
        samples=samples,
        scenario=scenario,
        seed=seed,
        log=_log,
    )
    lines = [
        f'{n["role"]:>7} {n["neuron"]:>9} {n["token"]!r}: p(t) off {n["p_off"]:.3g} -> '
        f'{n["p_best"]:.3g} at kappa {n["best_kappa"]} (x{n["ratio"]:.2f}); count '
        f'{n["count_off"]} -> {n["count_best"]}'
        for n in res['effect']['neurons']
    ]
    lines.append(
        f'raised >= 2x: targets {res["effect"]["raised_fraction"]:.2f}, controls '
        f'{res["effect"]["control_raised_fraction"]:.2f}'
    )
    for s in res.get('scenario', []):
        lines.append(
            f'scenario {s["neuron"]} {s["words"]}: {s["frac_off"]:.2f} -> '
            f'{s["frac_on"]:.2f} of {s["samples"]} answers'
        )
    _emit(res, as_json, lines)


@click.command('compare')
@click.argument('a')
@click.argument('b')
@click.option(
    '--matrix', type=click.Choice(['up', 'gate', 'down']), default='up', show_default=True
)
@click.option('--variant', default='A', show_default=True)
@click.option('--permutations', type=int, default=5, show_default=True)
@click.option('--save', default=None, help='when A/B are models, keep their atlases under this dir')
@click.option('--threads', type=int, default=None)
@click.option('--json', 'as_json', is_flag=True)
def compare(a, b, matrix, variant, permutations, save, threads, as_json):
    """agree@1 of decoded top tokens between A and B (atlas directories or models)."""
    from .metric import agreement

    _threads(threads)
    res = agreement(
        a, b, matrix=matrix, variant=variant, permutations=permutations, save=save, log=_log
    )
    lines = [
        f'agree@1 {res["agree1"]:.4f} (+- {res["agree1_se"]:.4f}) vs permutation chance '
        f'{res["chance"]:.5f}; Jaccard@{res["k"]} {res["jaccard"]:.4f}; {res["neurons"]} '
        f'neurons; distinct top-1 A {res["distinct_top1_a"]}, B {res["distinct_top1_b"]}'
    ]
    lines += [f'  layer {k:>3}: {v:.3f}' for k, v in res['per_layer'].items()]
    _emit(res, as_json, lines)


@click.command('bench')
@click.option(
    '--model',
    default='smollm2',
    show_default=True,
    help="model whose LM head and up-projection are decoded, or 'random' (SmolLM2 shapes)",
)
@click.option(
    '--neurons',
    type=int,
    default=128,
    show_default=True,
    help='neurons decoded one by one (the batched path decodes a whole layer)',
)
@click.option('--threads', type=int, default=1, show_default=True)
@click.option('--json', 'as_json', is_flag=True)
def bench(model, neurons, threads, as_json):
    """Batched (chunked matmul) vs per-neuron (matrix-vector + full softmax) decoding."""
    from .bench import run_bench

    _threads(threads)
    res = run_bench(model, neurons)
    lines = [f'{k:>28}: {v}' for k, v in res.items()]
    _emit(res, as_json, lines)
