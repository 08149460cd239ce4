# Alias of semicd_vl_synthetic_5pct (a short name for the default CPU config).
_base_ = ['./_base_/semicd_toy.py']
