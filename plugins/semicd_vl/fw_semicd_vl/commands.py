"""``fw semicd_vl <command>``: data generation, splits, pseudo-labels, backbone conversion,
comparison."""

from __future__ import annotations

import json

import click


def _ids(path):
    from .data import read_ids

    return read_ids(path)


@click.command('make-toy-cd')
@click.option('--out', required=True, type=click.Path(), help='output root (LEVIR-CD layout)')
@click.option('--n-train', default=400, show_default=True)
@click.option('--n-val', default=50, show_default=True)
@click.option('--n-test', default=100, show_default=True)
@click.option('--size', default=64, show_default=True)
@click.option('--seed', default=0, show_default=True)
@click.option(
    '--pseudo/--no-pseudo',
    default=True,
    show_default=True,
    help='also write oracle pseudo-labels to OUT/vl_oracle/{seg,change} (toy data only)',
)
def make_toy_cd(out, n_train, n_val, n_test, size, seed, pseudo):
    """Generate the synthetic bi-temporal building-change set (+ split files)."""
    from .toy import make_toy_cd as make
    from .toy import prepare_toy

    if pseudo:
        prepare_toy(out, n_train=n_train, n_val=n_val, n_test=n_test, size=size, seed=seed)
    else:
        make(out, n_train=n_train, n_val=n_val, n_test=n_test, size=size, seed=seed)
    click.echo(
        f'wrote {out} ({n_train}/{n_val}/{n_test} pairs of {size}x{size}; '
        f'splits in {out}/splits/toy)'
    )


@click.command('make-splits')
@click.option('--data-root', required=True, type=click.Path(exists=True))
@click.option('--out', required=True, type=click.Path(), help='split folder, e.g. splits/levir')
@click.option(
    '--pct', 'pcts', multiple=True, default=('5%', '10%', '20%', '40%'), show_default=True
)
@click.option('--seed', default=0, show_default=True)
@click.option('--train-ids', type=click.Path(exists=True), help='ids to split (default: all of A/)')
def make_splits(data_root, out, pcts, seed, train_ids):
    """Seeded labeled/unlabeled lists: labeled = first floor(P*N) of a seeded permutation."""
    from .data import list_image_ids, write_splits

    ids = _ids(train_ids) if train_ids else list_image_ids(data_root)
    write_splits(out, ids, pcts, seed)
    click.echo(f'wrote {", ".join(pcts)} splits of {len(ids)} ids to {out}')


def _ceg_opts(mode, conf_plane, inst_iou_thr):
    return dict(mode=mode, conf_plane=conf_plane, inst_iou_thr=inst_iou_thr)


_ceg_options = [
    click.option('--mode', type=click.Choice(['mixed', 'instance', 'pixel']), default='mixed'),
    click.option('--conf-plane', default=0.8, show_default=True),
    click.option('--inst-iou-thr', default=0.0, show_default=True),
]


def _with_ceg(f):
    for opt in reversed(_ceg_options):
        f = opt(f)
    return f


@click.command('gen-pseudo')
@click.option('--generator', required=True, help='pkg.mod:Class or a registered name')
@click.option('--args', 'gen_args', default='{}', help='JSON kwargs for the generator')
@click.option('--data-root', required=True, type=click.Path(exists=True))
@click.option(
    '--ids', required=True, type=click.Path(exists=True), help='file with one id per line'
)
@click.option('--out', required=True, type=click.Path(), help='writes OUT/raw, OUT/seg, OUT/change')
@_with_ceg
def gen_pseudo(generator, gen_args, data_root, ids, out, mode, conf_plane, inst_iou_thr):
    """Run a PseudoLabelGenerator on A and B of every id, then CEG -> disk format (a)."""
    from .pseudo_labels import generate_pseudo_labels
    from .vlm import load_generator

    gen = load_generator(generator, gen_args)
    generate_pseudo_labels(
        gen, data_root, _ids(ids), out, **_ceg_opts(mode, conf_plane, inst_iou_thr)
    )
    click.echo(f'vl_seg_root={out}/seg vl_change_root={out}/change')


@click.command('ceg')
@click.option(
    '--raw', required=True, type=click.Path(exists=True), help='raw generator output root'
)
@click.option('--ids', required=True, type=click.Path(exists=True))
@click.option('--out', required=True, type=click.Path())
@click.option(
    '--foreground', default='0,1', show_default=True, help='prompt indices meaning building'
)
@_with_ceg
def ceg(raw, ids, out, foreground, mode, conf_plane, inst_iou_thr):
    """Raw per-date probabilities + instances -> OUT/seg/{A,B}/<id>, OUT/change/<id>."""
    from .pseudo_labels import ceg_from_raw

    fg = tuple(int(v) for v in foreground.split(','))
    ceg_from_raw(
        raw,
        _ids(ids),
        f'{out}/seg',
        f'{out}/change',
        fg,
        **_ceg_opts(mode, conf_plane, inst_iou_thr),
    )
    click.echo(f'vl_seg_root={out}/seg vl_change_root={out}/change')


def eval_pseudo_labels(data_root, vl_change_root, ids):
    import cv2
    import numpy as np

    from .metric import cd_scores, confusion
    from .transforms import map_cd_label, read_map

    cm = np.zeros((2, 2), np.int64)
    for i in ids:
        gt = map_cd_label(read_map(f'{data_root}/label/{i}', 'change label'))
        c = cv2.imread(f'{vl_change_root}/{i}', cv2.IMREAD_UNCHANGED)
        if c is None:
            raise click.ClickException(f'missing pseudo-label {vl_change_root}/{i}')
        cm += confusion(np.where(c == 255, 0, c), gt)
    return cd_scores(cm)


@click.command('eval-pseudo')
@click.option('--data-root', required=True, type=click.Path(exists=True))
@click.option('--vl-change-root', required=True, type=click.Path(exists=True))
@click.option('--ids', required=True, type=click.Path(exists=True))
def eval_pseudo(data_root, vl_change_root, ids):
    """Score VLM change maps (255 -> 0) against ground truth: the unsupervised CEG result."""
    click.echo(
        json.dumps(
            {
                k: round(v, 2)
                for k, v in eval_pseudo_labels(data_root, vl_change_root, _ids(ids)).items()
            }
        )
    )


@click.command('convert-backbone')
@click.argument('src', type=click.Path(exists=True))
@click.argument('dst', type=click.Path())
@click.option('--depth', default=50, show_default=True)
def convert_backbone(src, dst, depth):
    """Map a deep-stem ResNet state dict (UniMatch resnet50.pth) onto mmseg ResNetV1c by
    position."""
    from .convert import convert_file

    n = convert_file(src, dst, depth)
    click.echo(f'wrote {dst} ({n} tensors)')


@click.command('compare')
@click.option('--seeds', default=3, show_default=True)
@click.option('--iters', default=200, show_default=True)
@click.option('--work-dir', default='work_dirs/semicd_vl_compare', show_default=True)
@click.option('--data-root', default='data/semicd_vl_toy', show_default=True)
@click.option('--methods', default='supervised,fixmatch,semicd_vl', show_default=True)
@click.option('--pcts', default='5%', show_default=True, help='label ratios, e.g. 5%,10%')
@click.option(
    '--select',
    type=click.Choice(['last', 'val']),
    default='last',
    show_default=True,
    help='test the last checkpoint, or the best one on the validation split (every method '
    'alike; the test split is read once, at the end)',
)
@click.option(
    '--val-interval',
    type=int,
    default=None,
    help='iterations between validations with --select val (default iters/10)',
)
@click.option(
    '--bn-recal',
    is_flag=True,
    help='also test after re-estimating BN statistics on weak '
    'unlabeled views (diagnostic; no labels used)',
)
def compare(seeds, iters, work_dir, data_root, methods, pcts, select, val_interval, bn_recal):
    """Supervised-only vs FixMatch vs SemiCD-VL on the toy set, equal iterations, several
    seeds and label ratios."""
    from .bench import run_compare

    click.echo(
        json.dumps(
            run_compare(
                seeds=seeds,
                iters=iters,
                work_dir=work_dir,
                data_root=data_root,
                methods=methods.split(','),
                bn_recal=bn_recal,
                pcts=tuple(pcts.split(',')),
                select=select,
                val_interval=val_interval,
            ),
            indent=1,
        )
    )
