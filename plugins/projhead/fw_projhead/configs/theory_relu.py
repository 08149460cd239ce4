# ReLU extension: a feature present in the lower layer (h) and absent from the higher one (z).
fw_base = []
task = 'theory_relu'
theory_relu = dict(seeds=(0, 1, 2), steps=3000)
