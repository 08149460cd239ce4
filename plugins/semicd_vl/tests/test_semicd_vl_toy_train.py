"""CI-scale run of the default CPU config: 100 iterations of full SemiCD-VL on the generated toy
set through fw's Runner, seed 0, one thread. The losses fall, and the test IoU^c clears thresholds
set from measured runs (seeds 0-4 with 1 and 2 threads; numbers beside each threshold).

The IoU^c of the last checkpoint at 100 iterations varies a lot with the seed (8.7 to 31.0 over
seeds 0-4): the last train-mode forward of each iteration is the strongly colour-jittered mixed
pair, so the BatchNorm running statistics used at test time describe jittered images (see the
README's Results). The stable measure of what the network learned is the IoU^c after
re-estimating those statistics on weak unlabeled views (no labels read): 27.5 to 43.5.
"""

import statistics

import pytest
import torch

ITERS = 100
# All-unchanged predictor: IoU^c 0; all-changed: 3.2 (changed pixels are 3.2 % of the test split).
# IoU^c of the last checkpoint, 5 seeds x 1 thread: 21.3 / 8.7 / 27.5 / 31.0 / 30.2 (min 8.7).
RAW_MIN = 4.0  # above the all-changed predictor; margin 4.7 below the measured minimum
# IoU^c after re-estimating BN statistics on 40 weak unlabeled batches, 5 seeds x 1 thread:
# 40.0 / 27.5 / 42.2 / 43.5 / 43.2 (min 27.5, spread 16.0).
RECAL_MIN = 15.0  # margin 12.5 below the measured minimum, 4.7x the all-changed predictor


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

    # measured last/first ratios over the seeds: l_vl <= 0.50, l_seg <= 0.62, l_x <= 0.30
    assert mean(last, 'l_vl') < mean(first, 'l_vl')  # VL change-head terms fall
    assert mean(last, 'l_seg') < mean(first, 'l_seg')  # VL building terms fall
    assert mean(last, 'l_x') < mean(first, 'l_x')  # supervised term falls

    # FixMatch term: the loss per confident pixel falls while the confident share rises
    # (measured: per-pixel loss ratio <= 0.63, share 0.54-0.63 -> 0.91-0.93)
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
