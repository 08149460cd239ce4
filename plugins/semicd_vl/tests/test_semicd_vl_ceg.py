"""CEG rule on hand-made masks, disk format, generator interface, oracle guard."""

import os
import sys

import cv2
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from framework import FwError  # noqa: E402
from fw_semicd_vl.ceg import ceg, mask_iou, single_date_label  # noqa: E402
from fw_semicd_vl.vlm import VLMOutput, load_generator  # noqa: E402

HW = (12, 12)


def box(y0, x0, y1, x1):
    m = np.zeros(HW, bool)
    m[y0:y1, x0:x1] = True
    return m


def out(*masks, unsure=()):
    """6 planes (house, building, road, grass, tree, water): building 0.9 on masks, grass 0.9
    elsewhere."""
    p = np.full((6,) + HW, 0.02, np.float32)
    fg = np.zeros(HW, bool)
    for m in masks:
        fg |= m
    p[1][fg], p[3][~fg] = 0.9, 0.9
    for m in unsure:
        p[:, m] = 0.5
    return VLMOutput(p, [(m, 1, 0.9) for m in masks])


def test_single_date_label_conf_plane_and_ties():
    p = np.zeros((6, 1, 4), np.float32)
    p[0, 0, 0] = 0.9  # house -> building
    p[3, 0, 1] = 0.9  # grass -> 0
    p[1, 0, 2] = 0.79  # below 0.8 -> constant plane wins -> 255
    p[1, 0, 3] = 0.8  # tie with the constant plane: the class wins
    np.testing.assert_array_equal(single_date_label(p)[0], [1, 0, 255, 1])


def test_new_building():
    b = box(2, 2, 6, 6)
    s_a, s_b, c = ceg(out(), out(b))  # A empty -> every B instance changed
    assert (c[b] == 1).all() and (c[~b] == 0).all() and (s_b[b] == 1).all()


def test_demolished_building():
    a, keep = box(1, 1, 4, 4), box(7, 7, 11, 11)
    _, _, c = ceg(out(a, keep), out(keep))
    assert (c[a] == 1).all() and (c[~a] == 0).all()


def test_shifted_building_overlap_is_unchanged_disjoint_is_changed():
    a, b = box(2, 2, 6, 6), box(3, 3, 7, 7)  # overlapping: IoU > 0 -> not a change event
    assert (ceg(out(a), out(b))[2] == 0).all()
    a, b = box(0, 0, 3, 3), box(6, 6, 9, 9)  # disjoint: both footprints changed
    _, _, c = ceg(out(a), out(b))
    assert (c[a | b] == 1).all() and (c[~(a | b)] == 0).all()
    # with instance mode an overlapping move is still unchanged; pixel mode marks the xor
    a, b = box(2, 2, 6, 6), box(3, 3, 7, 7)
    assert (ceg(out(a), out(b), mode='instance')[2] == 0).all()
    assert (ceg(out(a), out(b), mode='pixel')[2] == (a ^ b)).all()


def test_unsure_pixels_are_255():
    b = box(2, 2, 6, 6)
    u = box(3, 3, 4, 4) | box(10, 10, 12, 12)
    s_a, s_b, c = ceg(out(unsure=[u]), out(b))
    assert (s_a[u] == 255).all() and (c[u] == 255).all()
    assert (c[b & ~u] == 1).all() and (c[~b & ~u] == 0).all()


def test_changed_needs_both_rules_in_mixed_mode():
    a = box(2, 2, 6, 6)
    o = out(a)
    o.instances = []  # semantic map says building but no instance: no change event in mixed mode
    _, _, c = ceg(o, out())
    assert (c == 0).all()


def test_mask_iou_matches_pycocotools():
    mu = pytest.importorskip('pycocotools.mask')
    rng = np.random.RandomState(0)
    ma = [rng.rand(*HW) > 0.6 for _ in range(3)]
    mb = [rng.rand(*HW) > 0.7 for _ in range(4)]
    enc = lambda ms: [mu.encode(np.asfortranarray(m.astype(np.uint8))) for m in ms]  # noqa: E731
    np.testing.assert_allclose(mask_iou(ma, mb), mu.iou(enc(ma), enc(mb), [0] * 4), atol=1e-9)


def test_gen_pseudo_end_to_end_equals_direct_ceg(tmp_path):
    from fw_semicd_vl.pseudo_labels import DiskPseudoLabels, generate_pseudo_labels
    from fw_semicd_vl.toy import make_toy_cd
    from fw_semicd_vl.transforms import read_rgb

    root = tmp_path / 'toy'
    make_toy_cd(root, n_train=6, n_val=0, n_test=2, size=32, pcts=('50%',))
    gen = load_generator(
        'fw_semicd_vl.oracle:SyntheticOracleGenerator', f'{{"data_root": "{root}"}}'
    )
    ids = ['train_0.png', 'train_3.png']
    generate_pseudo_labels(gen, str(root), ids, tmp_path / 'vl')
    disk = DiskPseudoLabels(tmp_path / 'vl' / 'seg', tmp_path / 'vl' / 'change')
    for i in ids:
        oa = gen(read_rgb(root / 'A' / i), meta=dict(id=i, date='A'))
        ob = gen(read_rgb(root / 'B' / i), meta=dict(id=i, date='B'))
        s_a, s_b, c = ceg(oa, ob)
        got = disk.load(i)
        np.testing.assert_array_equal(got['vl_a'], s_a)
        np.testing.assert_array_equal(got['vl_b'], s_b)
        np.testing.assert_array_equal(got['vl_change'], c)
        assert set(np.unique(c)) <= {0, 1, 255}
    assert (tmp_path / 'vl' / 'change' / 'meta.json').is_file()


def test_oracle_refuses_real_data(tmp_path):
    from fw_semicd_vl.oracle import SyntheticOracleGenerator

    (tmp_path / 'A').mkdir()
    with pytest.raises(FwError, match='reads ground truth'):
        SyntheticOracleGenerator(str(tmp_path))


def test_disk_roundtrip_and_png_values(tmp_path):
    from fw_semicd_vl.pseudo_labels import DiskPseudoLabels

    d = DiskPseudoLabels(tmp_path / 's', tmp_path / 'c')
    m = np.array([[0, 1], [255, 1]], np.uint8)
    d.write('x.png', m, m, m)
    assert (cv2.imread(str(tmp_path / 's' / 'B' / 'x.png'), cv2.IMREAD_UNCHANGED) == m).all()


def test_cli_gen_pseudo_ceg_eval_and_splits(tmp_path):
    from click.testing import CliRunner

    from fw_semicd_vl import commands
    from fw_semicd_vl.toy import make_toy_cd

    root = tmp_path / 'toy'
    make_toy_cd(root, n_train=8, n_val=0, n_test=2, size=32, pcts=('50%',))
    ids = root / 'splits' / 'toy' / '50%' / 'labeled.txt'
    r = CliRunner()
    res = r.invoke(
        commands.gen_pseudo,
        [
            '--generator',
            'fw_semicd_vl.oracle:SyntheticOracleGenerator',
            '--args',
            f'{{"data_root": "{root}"}}',
            '--data-root',
            str(root),
            '--ids',
            str(ids),
            '--out',
            str(tmp_path / 'vl'),
        ],
    )
    assert res.exit_code == 0, res.output
    res = r.invoke(
        commands.ceg,
        ['--raw', str(tmp_path / 'vl' / 'raw'), '--ids', str(ids), '--out', str(tmp_path / 'vl2')],
    )
    assert res.exit_code == 0, res.output
    for i in ids.read_text().split():
        a = cv2.imread(str(tmp_path / 'vl' / 'change' / i), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(tmp_path / 'vl2' / 'change' / i), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(a, b)
    res = r.invoke(
        commands.eval_pseudo,
        [
            '--data-root',
            str(root),
            '--vl-change-root',
            str(tmp_path / 'vl' / 'change'),
            '--ids',
            str(ids),
        ],
    )
    assert res.exit_code == 0 and '"IoU_c"' in res.output, res.output
    res = r.invoke(
        commands.make_splits,
        ['--data-root', str(root), '--out', str(tmp_path / 'sp'), '--pct', '25%', '--seed', '1'],
    )
    assert res.exit_code == 0, res.output
    assert (
        len((tmp_path / 'sp' / '25%' / 'labeled.txt').read_text().split()) == 2
    )  # 25 % of 10 ids in A/


def test_raw_storage_keeps_ceg_exact_at_the_threshold(tmp_path):
    """Issue 14 item 7: probabilities just above / below the 0.8 plane survive the raw files, so
    CEG read back from disk equals CEG on the generator's float32 output (float16 storage rounds
    0.80004 down to 0.7998 and turns a building pixel into 'unsure')."""
    from fw_semicd_vl.pseudo_labels import read_raw, write_raw

    p = np.full((6,) + HW, 0.01, np.float32)
    near = np.float32([0.80004, 0.79996, 0.8, 0.80024, 0.79977, 0.8001])
    p[1, 0, :6] = near  # building plane around the threshold
    p[3, 1:, :] = 0.9  # grass elsewhere
    o = VLMOutput(p, [])
    write_raw(tmp_path, 'A', 'x.png', o)
    back = read_raw(tmp_path, 'A', 'x.png')
    assert np.array_equal(back.probs, p)
    direct = single_date_label(p)
    assert list(direct[0, :6]) == [1, 255, 1, 1, 255, 1]  # ties go to the class (0.8 == 0.8)
    assert np.array_equal(single_date_label(back.probs), direct)
