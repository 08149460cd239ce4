"""The attribute classifier that scores the shapes experiment (stand-in for BLIP-VQA).

A small CNN applied to a crop (the left half, the right half, or the whole image of a single
object) with a colour head (4-way) and a shape head (3-way), trained with cross-entropy on fresh
renders. It must reach >= 0.98 exact accuracy (colour and shape) on 2,000 held-out renders before
any binding number is trusted.
"""

from __future__ import annotations

import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from framework import FwError

from .shapes import COLOURS, SHAPES, render, single_prompts, to_tensor

GATE = 0.98


class AttributeJudge(nn.Module):
    """3 conv layers + global mean and max pooling + linear colour and shape heads.

    Args:
        width (int): channels of the first conv layer (doubled in the next two).
    """

    def __init__(self, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1),
            nn.ReLU(),
        )
        self.colour = nn.Linear(8 * width, len(COLOURS))
        self.shape = nn.Linear(8 * width, len(SHAPES))

    def forward(self, crops: torch.Tensor):
        h = self.features(crops)
        h = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)  # any crop size, any position
        return self.colour(h), self.shape(h)


def crops(images: torch.Tensor, n_objects: int) -> list[torch.Tensor]:
    """The whole image (one object) or its left and right halves (two objects)."""
    if n_objects == 1:
        return [images]
    w = images.shape[-1] // 2
    return [images[..., :w], images[..., w:]]


def _batch(rng: random.Random, res: int, n: int):
    """n single-object images and n two-object images with their per-crop labels."""
    objects = single_prompts()
    singles, pairs, labels1, labels2 = [], [], [], []
    for _ in range(n):
        o = rng.choice(objects)
        singles.append(to_tensor(render([o], res, rng)))
        labels1.append(o)
        a = rng.choice(objects)
        b = rng.choice([x for x in objects if x[0] != a[0] and x[1] != a[1]])
        pairs.append(to_tensor(render([a, b], res, rng)))
        labels2.append((a, b))
    return torch.stack(singles), labels1, torch.stack(pairs), labels2


def _targets(labels):
    return (
        torch.tensor([list(COLOURS).index(c) for c, _ in labels]),
        torch.tensor([SHAPES.index(s) for _, s in labels]),
    )


def judge_inputs(rng, res, n):
    """Crops and their (colour, shape) targets: whole singles, left and right halves of pairs."""
    singles, l1, pairs, l2 = _batch(rng, res, n)
    left, right = crops(pairs, 2)
    groups = [(singles, l1), (left, [a for a, _ in l2]), (right, [b for _, b in l2])]
    return [(x, *_targets(lab)) for x, lab in groups]


def exact_accuracy(judge: AttributeJudge, res: int, n: int = 2000, seed: int = 99) -> float:
    """Share of held-out crops with both colour and shape right."""
    rng = random.Random(seed)
    right = total = 0
    judge.eval()
    with torch.no_grad():
        for x, c, s in judge_inputs(rng, res, n // 3 + 1):
            pc, ps = judge(x)
            right += ((pc.argmax(1) == c) & (ps.argmax(1) == s)).sum().item()
            total += len(c)
    return right / total


def train_judge(
    res: int = 16, seed: int = 0, steps: int = 500, batch: int = 64, lr: float = 3e-3
) -> tuple[AttributeJudge, float]:
    """Train on fresh renders (with pixel noise); return the judge and its held-out accuracy."""
    rng = random.Random(seed)
    with torch.random.fork_rng(devices=[]), torch.enable_grad():
        torch.manual_seed(seed)
        judge = AttributeJudge()
        opt = torch.optim.Adam(judge.parameters(), lr=lr)
        for _ in range(steps):
            loss = 0.0
            for x, c, s in judge_inputs(rng, res, batch // 2):
                x = x + 0.1 * torch.randn_like(x)  # robust to the sampler's residual noise
                pc, ps = judge(x)
                loss = loss + F.cross_entropy(pc, c) + F.cross_entropy(ps, s)
            opt.zero_grad()
            loss.backward()
            opt.step()
    accuracy = exact_accuracy(judge, res)
    if accuracy < GATE:
        raise FwError(
            f'attribute judge reaches {accuracy:.3f} < {GATE} exact accuracy on 2,000 '
            f'held-out renders; the binding evaluation would be invalid: train longer '
            f'(steps) or use a larger res'
        )
    return judge.eval(), accuracy


def judge_probabilities(judge: AttributeJudge, images: torch.Tensor, n_objects: int):
    """Per crop (left to right): colour probabilities [B, 4] and shape probabilities [B, 3]."""
    with torch.no_grad():
        return [
            tuple(F.softmax(o, dim=1) for o in judge(x.float())) for x in crops(images, n_objects)
        ]


def as_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy()
