"""``make-toy-cd``: a small synthetic bi-temporal building-change set in the exact LEVIR-CD-256
layout.

root/A/<id>.png, root/B/<id>.png (RGB), root/label/<id>.png (0/255), root/splits/toy/<pct>/{labeled,
unlabeled}.txt, root/splits/toy/{val,test}.txt, plus ``_oracle/{A,B}/<id>.png`` building instance
ids
(read only by the synthetic oracle) and the marker file ``FW_SYNTHETIC_DATA``.
Scene: textured ground, roads, rectangular buildings with roof colours and shadows. Date B = date A
with removed and added buildings, a global photometric shift, blur and noise (nuisance changes).
Label = added ∪ removed footprints.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from framework import FwError

from .data import PCTS, write_splits
from .oracle import MARKER

ROOFS = np.array(
    [[178, 60, 50], [150, 150, 160], [70, 90, 160], [210, 120, 40], [230, 230, 220], [120, 70, 60]],
    np.float32,
)


def _ground(rng, s):
    grounds = np.array([[90, 120, 60], [120, 110, 80], [80, 100, 70], [140, 130, 100]], np.float32)
    base = grounds[rng.randint(len(grounds))]
    noise = cv2.GaussianBlur(rng.normal(0, 1, (s, s, 3)).astype(np.float32), (0, 0), 2.0) * 25
    return base + noise


def _free(occ, y, x, h, w, s, pad=2):
    return (
        y + h <= s
        and x + w <= s
        and not occ[max(0, y - pad) : y + h + pad, max(0, x - pad) : x + w + pad].any()
    )


def _place(rng, occ, s, n):
    boxes = []
    for _ in range(n * 20):
        if len(boxes) == n:
            break
        h, w = rng.randint(5, 15, size=2)
        y, x = rng.randint(0, s - h), rng.randint(0, s - w)
        if _free(occ, y, x, h, w, s):
            occ[y : y + h, x : x + w] = True
            boxes.append((y, x, h, w, ROOFS[rng.randint(len(ROOFS))] + rng.normal(0, 10, 3)))
    return boxes


def _render(ground, boxes, s):
    img = ground.copy()
    inst = np.zeros((s, s), np.uint8)
    for i, (y, x, h, w, roof) in enumerate(boxes, 1):
        img[min(y + 2, s - 1) : min(y + h + 2, s), min(x + 2, s - 1) : min(x + w + 2, s)] *= (
            0.6  # shadow
        )
        img[y : y + h, x : x + w] = roof
        img[y : y + h, x + w // 2] = roof * 0.85  # roof ridge
        inst[y : y + h, x : x + w] = i
    return img, inst


def make_pair(rng, s=64):
    ground = _ground(rng, s)
    occ = np.zeros((s, s), bool)
    for _ in range(rng.randint(1, 3)):  # roads
        wdt, pos = rng.randint(3, 6), rng.randint(0, s - 6)
        col = np.array([105, 105, 110], np.float32) + rng.normal(0, 5, 3)
        if rng.rand() < 0.5:
            ground[pos : pos + wdt] = col
            occ[pos : pos + wdt] = True
        else:
            ground[:, pos : pos + wdt] = col
            occ[:, pos : pos + wdt] = True
    boxes_a = _place(rng, occ, s, rng.randint(2, 7))
    keep = [b for b in boxes_a if rng.rand() > 0.25]
    removed = [b for b in boxes_a if not any(b is k for k in keep)]
    occ_b = occ.copy()
    added = _place(rng, occ_b, s, rng.poisson(1.5)) if rng.rand() < 0.8 else []
    boxes_b = keep + added
    img_a, inst_a = _render(ground, boxes_a, s)
    ground_b = ground * rng.uniform(0.8, 1.2, 3) + rng.normal(0, 12, 3)  # season / sensor shift
    img_b, inst_b = _render(
        ground_b, [(y, x, h, w, r * rng.uniform(0.85, 1.15)) for y, x, h, w, r in boxes_b], s
    )
    img_b = cv2.GaussianBlur(img_b, (0, 0), rng.uniform(0.3, 1.0)) + rng.normal(0, 4, img_b.shape)
    img_a = img_a + rng.normal(0, 3, img_a.shape)
    label = np.zeros((s, s), np.uint8)
    for y, x, h, w, _ in removed + added:
        label[y : y + h, x : x + w] = 255
    to8 = lambda v: np.clip(v, 0, 255).astype(np.uint8)  # noqa: E731
    return to8(img_a), to8(img_b), label, inst_a, inst_b


def make_toy_cd(root, n_train=400, n_val=50, n_test=100, size=64, seed=0, pcts=PCTS, split_seed=0):
    root = Path(root)
    for d in ('A', 'B', 'label', '_oracle/A', '_oracle/B'):
        (root / d).mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    ids = {}
    for split, n in (('train', n_train), ('val', n_val), ('test', n_test)):
        ids[split] = [f'{split}_{i}.png' for i in range(n)]
        for i in ids[split]:
            a, b, lab, ia, ib = make_pair(rng, size)
            cv2.imwrite(str(root / 'A' / i), cv2.cvtColor(a, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / 'B' / i), cv2.cvtColor(b, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / 'label' / i), lab)
            cv2.imwrite(str(root / '_oracle' / 'A' / i), ia)
            cv2.imwrite(str(root / '_oracle' / 'B' / i), ib)
    write_splits(
        root / 'splits' / 'toy', ids['train'], pcts, split_seed, ids['test'], ids['val'] or None
    )
    (root / MARKER).write_text(
        'synthetic data made by fw semicd_vl make-toy-cd; the oracle '
        'pseudo-label generator may read _oracle/\n'
    )
    return root


def prepare_toy(root, **kw):
    """Generate the toy set and its oracle pseudo-labels (``<root>/vl_oracle/{seg,change}``) unless
    ``root`` already holds them; written to a temporary folder and renamed, so it is atomic."""
    import os
    import shutil
    import tempfile

    root = Path(root)
    if (root / MARKER).is_file() and (root / 'vl_oracle' / 'change').is_dir():
        return root
    if (
        root.exists()
        and not (root / MARKER).is_file()
        and (not root.is_dir() or any(root.iterdir()))
    ):
        raise FwError(
            f'{root} exists and is not the synthetic toy set (no {MARKER} marker): the toy '
            'configs generate their own data into a missing or empty folder and never train on '
            'other data. For your own LEVIR-CD copy use a real config, e.g. `fw train semicd_vl '
            f'semicd_vl_r50_levir256_5pct --cfg-options data_root={root}`'
        )
    from .oracle import SyntheticOracleGenerator
    from .pseudo_labels import generate_pseudo_labels

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix='.toy-', dir=root.parent))
    try:
        make_toy_cd(tmp, **kw)
        ids = sorted(p.name for p in (tmp / 'A').iterdir() if p.name.startswith('train_'))
        generate_pseudo_labels(SyntheticOracleGenerator(str(tmp)), str(tmp), ids, tmp / 'vl_oracle')
        shutil.rmtree(tmp / 'vl_oracle' / 'raw')
        if root.exists() and not any(root.iterdir()):
            root.rmdir()
        os.rename(tmp, root)
    except OSError:
        if not (root / MARKER).is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
