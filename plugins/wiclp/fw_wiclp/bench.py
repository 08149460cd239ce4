"""``fw wiclp bench``: what a projection costs, measured side by side in one process.

Parameters at SD 1.x (d = 768) and SD 2.x (d = 1024) widths, and the time of one projector call on
a [2, 77, d] batch next to one text-encoder call of the same batch, plus whole-sampling time of the
tiny SD pipeline with no projection, CLP and WiCLP (same seeds), reported as ratios.
"""

from __future__ import annotations

import time

import torch

from .neck import CLP, WiCLP


def _best(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


@torch.no_grad()
def run(repeats: int = 3) -> dict:
    from .diffusion import TinyStableDiffusion
    from .sampling import encode_prompts, make_pipeline, sample_with_pipeline

    result = {}
    for d in (768, 1024):
        result[f'params CLP d={d}'] = sum(p.numel() for p in CLP(d).parameters())
        result[f'params WiCLP(w=5) d={d}'] = sum(p.numel() for p in WiCLP(d, 5).parameters())
        x = torch.randn(2, 77, d)
        clp, wiclp = CLP(d), WiCLP(d, 5)
        result[f'CLP call [2,77,{d}] ms'] = round(1e3 * _best(lambda: clp(x), repeats), 3)
        result[f'WiCLP call [2,77,{d}] ms'] = round(1e3 * _best(lambda: wiclp(x), repeats), 3)
    parts = TinyStableDiffusion(seed=0, embed_dim=32, sample_size=16)
    clean = encode_prompts(parts.text_encoder, parts.tokenizer, ['a red circle and a blue square'])
    negative = encode_prompts(parts.text_encoder, parts.tokenizer, [''])
    pipe = make_pipeline(parts)

    def sample(projector):
        projected = None if projector is None else projector(clean)
        return sample_with_pipeline(
            pipe,
            clean,
            negative,
            projected,
            num_inference_steps=10,
            generator=torch.Generator().manual_seed(0),
            output_type='pt',
        )

    base = _best(lambda: sample(None), repeats)
    result['tiny SD sampling, no projection s'] = round(base, 4)
    for name, proj in (('CLP', CLP(32)), ('WiCLP', WiCLP(32, 5))):
        result[f'tiny SD sampling, {name} / none'] = round(
            _best(lambda: sample(proj), repeats) / base, 3
        )
    return result
