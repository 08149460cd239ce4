"""Plugin commands: ``fw damo_yolo make-shapes-coco | fuse | export-weights | complexity |
bench``."""

import json

import click


@click.command('make-shapes-coco')
@click.option('--out', default='data/shapes_coco', show_default=True, help='output root folder')
@click.option('--n-train', default=256, show_default=True)
@click.option('--n-val', default=32, show_default=True)
@click.option('--size', default=160, show_default=True, help='image side in pixels')
@click.option('--seed', default=0, show_default=True)
def make_shapes_coco_cmd(out, n_train, n_val, size, seed):
    """Write the synthetic shapes detection set (COCO json + PNG images)."""
    from .data import make_shapes_coco

    paths = make_shapes_coco(out, n_train, n_val, size, seed)
    for split, p in paths.items():
        click.echo(f'{split}: {p}')


@click.command('fuse')
@click.argument('config')
@click.argument('checkpoint')
@click.argument('out')
@click.option('--fuse-bn', is_flag=True, help='also fold every BN into its conv')
@click.option(
    '--trust-checkpoint',
    is_flag=True,
    help='allow a full (pickled) checkpoint; only for files you wrote yourself',
)
def fuse_cmd(config, checkpoint, out, fuse_bn, trust_checkpoint):
    """Re-parameterise CHECKPOINT of CONFIG into a deploy checkpoint OUT (weights only)."""
    from .deploy import fuse_checkpoint

    info = fuse_checkpoint(config, checkpoint, out, fuse_bn=fuse_bn, trusted=trust_checkpoint)
    click.echo(json.dumps(info))


@click.command('export-weights')
@click.argument('checkpoint')
@click.argument('out')
def export_weights_cmd(checkpoint, out):
    """Write a weights-only copy (state_dict + plain meta) of a checkpoint this stack wrote."""
    from .deploy import export_weights

    click.echo(export_weights(checkpoint, out))


@click.command('complexity')
@click.option('--json', 'as_json', is_flag=True, help='print a JSON list')
@click.option('--size', default=640, show_default=True)
@click.option('--models', default='T,S,M', show_default=True, help='comma list of T, S, M, L')
def complexity_cmd(as_json, size, models):
    """Deploy-mode parameters and FLOPs (2 x multiply-accumulates) of T/S/M at SIZE x SIZE."""
    from .bench import complexity

    rows = complexity(size=size, archs=tuple(m.strip().upper() for m in models.split(',')))
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(
        f'{"model":<14}{"params_m":>10}{"gflops":>10}{"paper_params":>14}{"paper_gflops":>14}'
    )
    for r in rows:
        click.echo(
            f'{r["model"]:<14}{r["params_m"]:>10.3f}{r["gflops"]:>10.2f}'
            f'{r["paper_params_m"]:>14}{r["paper_gflops"]:>14}'
        )


@click.command('bench')
@click.option('--json', 'as_json', is_flag=True, help='print a JSON list')
@click.option('--sizes', default='640,416', show_default=True)
@click.option('--threads', default=1, show_default=True, help='torch intra-op threads (fixed)')
@click.option('--warmup', default=10, show_default=True)
@click.option('--iters', default=30, show_default=True)
@click.option(
    '--compare-accuracy',
    is_flag=True,
    help='train DAMO-YOLO-T, YOLOX-tiny and YOLOX-S with one schedule on the shapes set '
    '(per seed) and print mAP, mAP@0.5 and latency; long (one CPU-default run per model/seed)',
)
@click.option('--seeds', default='0,1,2', show_default=True, help='with --compare-accuracy')
@click.option(
    '--models',
    default='damo_yolo_t,yolox_tiny,yolox_s',
    show_default=True,
    help='with --compare-accuracy',
)
@click.option(
    '--work-dir',
    default='work_dirs/damo_yolo/compare',
    show_default=True,
    help='with --compare-accuracy',
)
@click.option(
    '--epochs', type=int, default=None, help="with --compare-accuracy (default: the CPU default's)"
)
def bench_cmd(
    as_json, sizes, threads, warmup, iters, compare_accuracy, seeds, models, work_dir, epochs
):
    """CPU latency (batch 1, no NMS) of deployed DAMO-YOLO-T vs mmdet's YOLOX-S, side by side;
    with --compare-accuracy the accuracy comparison on the shapes set."""
    if compare_accuracy:
        from .compare import compare_accuracy as run_compare

        rows = run_compare(
            seeds=[int(s) for s in seeds.split(',')],
            models=[m.strip() for m in models.split(',')],
            work_dir=work_dir,
            threads=threads,
            log=None if as_json else click.echo,
            epochs=epochs,
        )
        click.echo(
            json.dumps(rows) if as_json else '\n'.join(map(str, rows[-len(models.split(',')) :]))
        )
        return
    from .bench import bench

    rows = bench(
        [int(s) for s in sizes.split(',')],
        threads,
        warmup,
        iters,
        log=None if as_json else click.echo,
    )
    if as_json:
        click.echo(json.dumps(rows))
        return
    for r in rows:
        click.echo(
            f'{r["input_size"]}: damo_yolo_t {r["damo_yolo_t_ms"]:.1f} ms, '
            f'yolox_s {r["yolox_s_ms"]:.1f} ms, '
            f'ratio {r["ratio"]:.3f} (goal <= 0.8)'
        )


@click.command('convert-official')
@click.argument('checkpoint')
@click.argument('out')
@click.option(
    '--config',
    default=None,
    help='fw config of the model (default: T/S/M/L detected from the checkpoint)',
)
def convert_official_cmd(checkpoint, out, config):
    """Map an official DAMO-YOLO CHECKPOINT (a local file; training or deploy form) onto fw's
    modules, load it strictly and write an fw/mmdet checkpoint OUT (weights only)."""
    from .convert import convert_official

    click.echo(json.dumps(convert_official(checkpoint, out, config=config)))


@click.command('export')
@click.argument('checkpoint')
@click.argument('out')
@click.option('--config', default=None, help='fw config (default: the one in the checkpoint)')
@click.option('--size', default=640, show_default=True, help='export / check input side')
@click.option('--decode', is_flag=True, help='output decoded boxes and class probabilities')
@click.option(
    '--trust-checkpoint',
    is_flag=True,
    help='allow a full (pickled) checkpoint; only for files you wrote yourself',
)
def export_cmd(checkpoint, out, config, size, decode, trust_checkpoint):
    """Re-parameterise CHECKPOINT and export it to ONNX (OUT), without NMS; checked against
    PyTorch with onnxruntime when installed."""
    from .deploy import export_onnx

    info = export_onnx(checkpoint, out, config, size, decode, trust_checkpoint)
    click.echo(json.dumps(info))
