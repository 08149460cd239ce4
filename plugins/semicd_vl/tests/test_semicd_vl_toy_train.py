"""CI-scale run of the default CPU config: 100 iterations of full SemiCD-VL on the generated toy
set through fw's Runner, seed 0, one thread. The losses fall, and the test IoU^c clears thresholds
set from measured runs (seeds 0-4 with 1 thread, seeds 0-4 with 2 threads; numbers beside each
threshold).

The IoU^c of the last checkpoint at 100 iterations varies a lot with the seed (6.4 to 24.7 over
seeds 0-4, heads initialised as the official code): the last train-mode forward of each iteration
is the strongly colour-jittered mixed pair, so the BatchNorm running statistics used at test time
describe jittered images (see the README's Results). Re-estimating those statistics on weak
unlabeled views (no labels read) gives 10.7 to 38.3.
"""

import statistics

import pytest
import torch

ITERS = 100
# All-unchanged predictor: IoU^c 0; all-changed: 3.2 (changed pixels are 3.2 % of the test split).
# IoU^c of the last checkpoint, seeds 0-4 x 1 thread: 14.5 / 9.8 / 6.4 / 7.5 / 24.7 (min 6.4).
# 2 threads, seeds 0-4: 13.9 / 10.0 / 8.2 / 6.7 / 21.7 (|1 vs 2 threads| <= 3.0).
RAW_MIN = 4.0  # above the all-changed predictor; margin 2.4 below the measured minimum
# IoU^c after re-estimating BN statistics on 40 weak unlabeled batches, seeds 0-4 x 1 thread:
# 35.0 / 21.9 / 14.0 / 10.7 / 38.3 (min 10.7, spread 27.6).
# 2 threads, seeds 0-4: 34.0 / 21.6 / 15.3 / 11.0 / 36.1 (|1 vs 2 threads| <= 2.2).
RECAL_MIN = 6.0  # margin 4.7 below the measured minimum, 1.9x the all-changed predictor


def test_toy_semicd_vl_learns(tmp_path):
    from framework import build_runner
    from fw_semicd_vl.bench import recalibrate_bn, toy_config
    from fw_semicd_vl.toy import prepare_toy

    torch.manual_seed(0)
    torch.set_num_threads(1)
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

    def mean(rows, k):
        return statistics.mean(r[k] for r in rows)

    # measured last/first ratios, seeds 0-4 x 1 thread: l_vl <= 0.48, l_seg <= 0.55, l_x <= 0.33
    assert mean(last, 'l_vl') < mean(first, 'l_vl')  # VL change-head terms fall
    assert mean(last, 'l_seg') < mean(first, 'l_seg')  # VL building terms fall
    assert mean(last, 'l_x') < mean(first, 'l_x')  # supervised term falls

    # FixMatch term: the loss per confident pixel falls while the confident share rises
    # (measured: per-pixel loss ratio <= 0.83, share 0.58-0.67 -> 0.90-0.92)
    def per_conf(rows):
        return statistics.mean(r['l_s'] / r['mask_ratio'] for r in rows if r['mask_ratio'] > 0)

    assert per_conf(last) < per_conf(first)
    assert mean(last, 'mask_ratio') > mean(first, 'mask_ratio')
    assert log[-1]['vl_lambda'] == pytest.approx(0.1 * (1 - (ITERS - 1) / ITERS), abs=1e-6)
    raw = runner.test()['cd/IoU_c']
    assert raw > RAW_MIN, f'IoU_c {raw:.2f} of the last checkpoint'
    recalibrate_bn(runner.model, runner.build_dataloader(cfg.train_dataloader['unlabeled']))
    recal = runner.test()['cd/IoU_c']
    assert recal > RECAL_MIN, f'IoU_c {recal:.2f} after re-estimating BN statistics'
