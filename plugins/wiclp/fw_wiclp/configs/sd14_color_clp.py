# CLP on SD 1.4, T2I-CompBench color (paper Sec. 5-6). GPU; paths in _base_/sd*.py.
_base_ = ['./_base_/sd14.py']

category = 'color'
val_dataloader = dict(dataset=dict(category=category))
test_dataloader = dict(dataset=dict(category=category))
