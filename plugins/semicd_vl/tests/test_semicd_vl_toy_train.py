"""CI-scale run of the default CPU config (spec §7 check 11): 1 seed, 100 iterations of full SemiCD-VL on the
generated toy set through fw's Runner; losses fall and test IoU^c clears a threshold set from measured runs."""
import os
import statistics
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

ITERS = 100
IOU_MIN = 20.0  # measured: see README "Tests" (set once with margin)


def test_toy_semicd_vl_learns(tmp_path):
    pytest.importorskip('framework.train')
    torch.set_num_threads(1)
    from framework.plugins import activate
    from framework.train import build_runner
    activate('semicd_vl')
    from fw_semicd_vl.compare import toy_config
    from fw_semicd_vl.datasets.toy import prepare_toy
    root = tmp_path / 'toy'
    prepare_toy(root)
    cfg = toy_config('semicd_vl', 0, ITERS, str(tmp_path / 'wd'), str(root))
    runner = build_runner(cfg)
    model = runner.model
    log = []
    orig = model.compose_losses

    def spy(t, lam=None):
        out = orig(t, lam)
        log.append({k: float(v) for k, v in out.items()})
        return out
    model.compose_losses = spy
    runner.train()
    first, last = log[:15], log[-15:]
    mean = lambda rows, k: statistics.mean(r[k] for r in rows)  # noqa: E731
    assert mean(last, 'l_vl') < mean(first, 'l_vl')      # VL change-head terms fall
    assert mean(last, 'l_seg') < mean(first, 'l_seg')    # VL building terms fall
    assert mean(last, 'l_x') < mean(first, 'l_x')        # supervised term falls
    # FixMatch term: the loss per confident pixel falls while the confident share rises
    per_conf = lambda rows: statistics.mean(r['l_s'] / r['mask_ratio'] for r in rows if r['mask_ratio'] > 0)  # noqa
    assert per_conf(last) < per_conf(first)
    assert mean(last, 'mask_ratio') > mean(first, 'mask_ratio')
    assert log[-1]['vl_lambda'] == pytest.approx(0.1 * (1 - (ITERS - 1) / ITERS), abs=1e-6)
    m = runner.test()
    assert m['cd/IoU_c'] > IOU_MIN  # the all-unchanged predictor scores 0
