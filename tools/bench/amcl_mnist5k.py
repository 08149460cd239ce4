"""Benchmark: SimCLR / MoCo v2 / Barlow Twins with and without AMCL on MNIST-5k (or --dataset digits).

    nice -n 10 python tools/bench/amcl_mnist5k.py --seeds 3 --epochs 30 [--methods simclr,amcl_simclr]

Prints linear-probe, 5-shot and kNN accuracy (mean ± std over seeds) with raw-pixel and random-init
reference rows, and the paired per-seed difference AMCL − baseline. Same as `fw amcl compare`.
"""
import sys

from fw_amcl.benchmark import main

if __name__ == '__main__':
    main(sys.argv[1:], prog='tools/bench/amcl_mnist5k.py')
