# Default CPU config: full SemiCD-VL on the generated toy set with 5 % labels (see
# _base_/semicd_toy.py).
_base_ = ['./_base_/semicd_toy.py']
