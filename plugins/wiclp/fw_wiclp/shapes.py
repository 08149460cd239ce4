"""Coloured-shape scenes: a CPU-sized stand-in for the paper's attribute-binding evaluation.

T2I-CompBench's colour and shape categories (Sec. 6 of the paper) ask for prompts such as "a green
bench and a red car" and score whether each object got its own attribute. Here the scenes are
rendered (PIL, seeded): four pure colours x three shapes on black. "a {c} {s}" is one object,
centred (+-2 px); "a {c1} {s1} and a {c2} {s2}" (c1 != c2, s1 != s2) puts the first phrase in the
left half and the second in the right half (+-1 px size, +-2 px vertical jitter). That gives 72
ordered two-object prompts (36 unordered combinations), split by a fixed seed into 24 ``comp_train``
and 12 ``comp_val`` combinations (both orders of each).
"""

from __future__ import annotations

import itertools
import random

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

from framework import FwError

COLOURS = {'red': (255, 0, 0), 'green': (0, 255, 0), 'blue': (0, 0, 255), 'yellow': (255, 255, 0)}
SHAPES = ('circle', 'square', 'triangle')
VOCAB = ('a', 'and', *COLOURS, *SHAPES)
SPLIT_SEED = 1234
SUPERSAMPLE = 4


def single_prompts() -> list[tuple[str, str]]:
    """The 12 (colour, shape) objects."""
    return [(c, s) for c in COLOURS for s in SHAPES]


def pair_combinations() -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """The 36 unordered two-object combinations with different colours and different shapes."""
    objects = single_prompts()
    return [(a, b) for a, b in itertools.combinations(objects, 2) if a[0] != b[0] and a[1] != b[1]]


def split_pairs(split: str) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Ordered pairs (both orders of each combination) of ``comp_train`` (24) or ``comp_val`` (12)."""
    combos = pair_combinations()
    random.Random(SPLIT_SEED).shuffle(combos)
    chosen = {'comp_train': combos[:24], 'comp_val': combos[24:]}.get(split)
    if chosen is None:
        raise FwError(f"split '{split}'; expected comp_train or comp_val")
    return [pair for a, b in chosen for pair in ((a, b), (b, a))]


def prompt_of(objects) -> str:
    return ' and '.join(f'a {c} {s}' for c, s in objects)


def _draw(draw: ImageDraw.ImageDraw, shape: str, colour, cx: float, cy: float, size: float):
    h = size / 2
    box = [cx - h, cy - h, cx + h, cy + h]
    if shape == 'circle':
        draw.ellipse(box, fill=colour)
    elif shape == 'square':
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)], fill=colour)


def render(objects, res: int = 16, rng: random.Random | None = None) -> np.ndarray:
    """Render one object (centred) or two (left half, right half); uint8 array [res, res, 3].

    Drawn at 4x and box-downsampled, so edges are anti-aliased.
    """
    rng = rng or random.Random(0)
    big = res * SUPERSAMPLE
    image = Image.new('RGB', (big, big))
    draw = ImageDraw.Draw(image)
    s = SUPERSAMPLE
    if len(objects) == 1:
        ((colour, shape),) = objects
        size = 0.5 * res + rng.uniform(-1, 1)
        cx = res / 2 + rng.uniform(-2, 2)
        cy = res / 2 + rng.uniform(-2, 2)
        _draw(draw, shape, COLOURS[colour], cx * s, cy * s, size * s)
    elif len(objects) == 2:
        for half, (colour, shape) in enumerate(objects):
            size = 0.375 * res + rng.uniform(-1, 1)
            cx = res / 4 + half * res / 2
            cy = res / 2 + rng.uniform(-2, 2)
            _draw(draw, shape, COLOURS[colour], cx * s, cy * s, size * s)
    else:
        raise FwError(f'render takes one or two objects, got {len(objects)}')
    return np.asarray(image.resize((res, res), Image.BOX))


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] -> float [3, H, W] in [-1, 1] (SD's Normalize(0.5, 0.5))."""
    return torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(127.5).sub(1.0)


class ShapeScenes(Dataset):
    """A seeded stream of rendered scenes and their prompts (training data).

    Args:
        mode (str): ``'base'`` (stage A: single objects with ``comp_fraction`` of ``comp_train``
            pairs and ``empty_fraction`` empty prompts, for classifier-free guidance) or
            ``'comp_train'`` (stage B: ``comp_train`` pairs only).
        res (int): image side.
        size (int): number of samples per epoch (each index renders a fresh scene).
        comp_fraction (float): share of two-object scenes in stage A (0.15: compositions are rare).
        empty_fraction (float): share of empty prompts in stage A (0.1).
        seed (int): seed of the stream.
    """

    def __init__(
        self,
        mode: str = 'base',
        res: int = 16,
        size: int = 64000,
        comp_fraction: float = 0.15,
        empty_fraction: float = 0.1,
        seed: int = 0,
    ):
        if mode not in ('base', 'comp_train'):
            raise FwError(f"ShapeScenes mode='{mode}'; expected 'base' or 'comp_train'")
        self.mode, self.res, self.size, self.seed = mode, res, size, seed
        self.comp_fraction, self.empty_fraction = comp_fraction, empty_fraction
        self.singles = single_prompts()
        self.pairs = split_pairs('comp_train')

    def __len__(self):
        return self.size

    def sample(self, index: int):
        rng = random.Random(self.seed * 1_000_003 + index)
        if self.mode == 'comp_train' or rng.random() < self.comp_fraction:
            objects = list(rng.choice(self.pairs))
        else:
            objects = [rng.choice(self.singles)]
        prompt = prompt_of(objects)
        if self.mode == 'base' and rng.random() < self.empty_fraction:
            prompt = ''
        return render(objects, self.res, rng), prompt

    def __getitem__(self, index: int):
        image, prompt = self.sample(index)
        return dict(inputs=to_tensor(image), data_samples=dict(prompt=prompt))


class ShapePrompts(Dataset):
    """Evaluation prompts: ``single`` (12), ``comp_train`` (48) or ``comp_val`` (24).

    Args:
        split (str): which prompts.
        samples_per_prompt (int): images per prompt; sample k of prompt i always gets the same
            initial noise (seed ``noise_seed + 1000 * i + k``), so arms are paired.
        noise_seed (int): base of the per-image noise seeds.

    Each item holds the prompt, its objects (colour and shape labels, left to right) and the
    noise seed.
    """

    def __init__(self, split: str = 'comp_train', samples_per_prompt: int = 4, noise_seed: int = 0):
        if split == 'single':
            objects = [[o] for o in single_prompts()]
        else:
            objects = [list(p) for p in split_pairs(split)]
        self.split = split
        self.items = []
        for i, objs in enumerate(objects):
            for k in range(samples_per_prompt):
                self.items.append(
                    dict(
                        prompt=prompt_of(objs),
                        prompt_index=i,
                        colours=torch.tensor([list(COLOURS).index(c) for c, _ in objs]),
                        shapes=torch.tensor([SHAPES.index(s) for _, s in objs]),
                        noise_seed=noise_seed + 1000 * i + k,
                    )
                )

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        return dict(inputs=torch.tensor(item['noise_seed']), data_samples=dict(item))
