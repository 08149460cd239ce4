# Ablation (paper Sec. 4.4, "Matryoshka training strategy"): train at one fixed rank r = d/2 = 32
# for every layer, head, K and V instead of sampling nested ranks per step. The paper reports that
# such a projection does not improve monotonically when the rank is raised again at inference.
_base_ = ['./mkv_smollm2_cpu.py']
model = dict(fixed_rank=32)
