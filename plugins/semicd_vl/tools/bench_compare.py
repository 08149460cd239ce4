#!/usr/bin/env python
"""Benchmark: supervised-only vs FixMatch vs SemiCD-VL on the toy 5 % set, equal iterations, N seeds.

    nice -n 10 python plugins/semicd_vl/tools/bench_compare.py --seeds 3 --iters 200 --out /tmp/scd_bench

Same as `fw semicd_vl compare`; prints per-seed test IoU^c, mean ± std and paired differences.
"""
import argparse
import json

from framework.plugins import activate

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--iters', type=int, default=200)
    ap.add_argument('--out', default='work_dirs/semicd_vl_compare')
    ap.add_argument('--data-root', default='data/semicd_vl_toy')
    a = ap.parse_args()
    activate('semicd_vl')
    from fw_semicd_vl.compare import run_compare
    res = run_compare(seeds=a.seeds, iters=a.iters, work_dir=a.out, data_root=a.data_root)
    print(json.dumps(res['summary'], indent=1))
