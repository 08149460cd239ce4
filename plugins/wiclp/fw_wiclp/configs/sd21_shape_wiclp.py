# WiCLP (w=5) on SD 2.1, T2I-CompBench shape (paper Sec. 5-6). GPU; paths in _base_/sd*.py.
_base_ = ['./_base_/sd21.py']

category = 'shape'
model = dict(projector=dict(_delete_=True, type='wiclp.WiCLP', dim=1024, window=5))
val_dataloader = dict(dataset=dict(category=category))
test_dataloader = dict(dataset=dict(category=category))
