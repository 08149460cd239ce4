# WiCLP (w=5) on SD 1.4, T2I-CompBench shape (paper Sec. 5-6). GPU; paths in _base_/sd*.py.
_base_ = ['./_base_/sd14.py']

category = 'shape'
model = dict(projector=dict(_delete_=True, type='wiclp.WiCLP', dim=768, window=5))
val_dataloader = dict(dataset=dict(category=category))
test_dataloader = dict(dataset=dict(category=category))
