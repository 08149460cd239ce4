# CLP on SD 2.1, T2I-CompBench texture (paper Sec. 5-6). GPU; paths in _base_/sd*.py.
_base_ = ['./_base_/sd21.py']

category = 'texture'
val_dataloader = dict(dataset=dict(category=category))
test_dataloader = dict(dataset=dict(category=category))
