"""T2I-CompBench prompts and the projector's image-text training pairs, from local paths.

T2I-CompBench (Huang et al., 2023) ships one prompt per line in ``examples/dataset/`` as
``{cat}_train.txt`` and ``{cat}_val.txt`` (cat = color, shape, texture, ...), often with a trailing
"." and with duplicates; ``{cat}.txt`` holds train and val together. The paper trains its
projections on "a small set of compositional image-text pairs" made from the *train* prompts and
evaluates on the val prompts (Sec. 6), so ``{cat}.txt`` is refused for training.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from framework import FwError

CATEGORIES = ('color', 'shape', 'texture', 'spatial', 'non_spatial', 'complex')
FLIP_SAFE = ('color', 'shape', 'texture')


def read_prompt_file(path) -> list[str]:
    """Strip whitespace and one trailing '.', drop empty lines, de-duplicate keeping order."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FwError(
            f'prompt file {path} does not exist; set compbench_dir to a local clone of '
            f'T2I-CompBench (it has examples/dataset/{{cat}}_train.txt)'
        )
    seen, prompts = set(), []
    for line in path.read_text(encoding='utf-8').splitlines():
        p = line.strip()
        if p.endswith('.'):
            p = p[:-1].rstrip()
        if p and p not in seen:
            seen.add(p)
            prompts.append(p)
    return prompts


def compbench_prompts(compbench_dir, category: str, split: str) -> list[str]:
    """Unique prompts of ``{category}_{split}.txt``; train and val must not overlap."""
    if split not in ('train', 'val'):
        raise FwError(
            f"split '{split}': use 'train' (training) or 'val' (evaluation); "
            f"'{category}.txt' mixes both and would leak val prompts into training"
        )
    folder = Path(compbench_dir).expanduser() / 'examples' / 'dataset'
    train = read_prompt_file(folder / f'{category}_train.txt')
    val = read_prompt_file(folder / f'{category}_val.txt')
    overlap = set(train) & set(val)
    if overlap:
        raise FwError(
            f'{folder}: {len(overlap)} prompts are in both {category}_train.txt and '
            f'{category}_val.txt (e.g. {sorted(overlap)[0]!r}); fix the files'
        )
    return train if split == 'train' else val


class CompBenchPrompts(Dataset):
    """Evaluation prompts of a T2I-CompBench category, ``images_per_prompt`` seeded images each.

    Args:
        compbench_dir (str): local clone of T2I-CompBench.
        category (str): color, shape, texture, ...
        split (str): ``'val'`` (evaluation) or ``'train'``.
        images_per_prompt (int): images per prompt (100 in the full protocol, 10 for a quick one).
        limit (int | None): keep only the first ``limit`` prompts.
        noise_seed (int): image k of prompt i starts from seed ``noise_seed + 1000 * i + k``.
    """

    def __init__(
        self,
        compbench_dir: str,
        category: str = 'color',
        split: str = 'val',
        images_per_prompt: int = 10,
        limit: int | None = None,
        noise_seed: int = 0,
    ):
        prompts = compbench_prompts(compbench_dir, category, split)[:limit]
        self.items = [
            dict(prompt=p, prompt_index=i, noise_seed=noise_seed + 1000 * i + k)
            for i, p in enumerate(prompts)
            for k in range(images_per_prompt)
        ]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        return dict(inputs=torch.tensor(item['noise_seed']), data_samples=dict(item))


def read_pairs(path) -> list[dict]:
    """``[{"image": path, "prompt": str}, ...]`` from a JSON array or JSON Lines file.

    Relative image paths resolve against the file's folder. Missing images raise one error that
    names the first missing path and how many are missing.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FwError(
            f'training pairs file {path} does not exist; set train_json to a JSON '
            f'array or JSON Lines file of {{"image": ..., "prompt": ...}}'
        )
    text = path.read_text(encoding='utf-8').strip()
    try:
        rows = (
            json.loads(text)
            if text.startswith('[')
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as e:
        raise FwError(f'{path} is neither a JSON array nor JSON Lines: {e}') from e
    pairs = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or 'image' not in row or 'prompt' not in row:
            raise FwError(
                f'{path}: entry {i} must be an object with "image" and "prompt", got {row!r}'
            )
        image = Path(row['image']).expanduser()
        pairs.append(
            dict(
                image=image if image.is_absolute() else path.parent / image,
                prompt=str(row['prompt']).strip(),
            )
        )
    missing = [p['image'] for p in pairs if not p['image'].is_file()]
    if missing:
        raise FwError(
            f'{path}: {len(missing)} of {len(pairs)} images are missing, the first is {missing[0]}'
        )
    if not pairs:
        raise FwError(f'{path} holds no pairs')
    return pairs


class ImageTextPairs(Dataset):
    """The projector's training set: images and prompts listed in a JSON / JSON Lines file.

    Args:
        train_json (str): the pairs file (relative image paths resolve against its folder).
        resolution (int): side S of Resize(S, S) (512 for SD 1.4, 768 for SD 2.1).
        hflip (bool): RandomHorizontalFlip (the authors' augmentation); keep it False for any
            category other than colour, shape and texture, since flips break spatial prompts.

    Transform: Resize(S, S) -> RandomHorizontalFlip -> ToTensor -> Normalize(0.5, 0.5).
    """

    def __init__(self, train_json: str, resolution: int = 512, hflip: bool = True):
        self.pairs = read_pairs(train_json)
        self.resolution, self.hflip = resolution, hflip

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        pair = self.pairs[index]
        image = Image.open(pair['image']).convert('RGB')
        image = image.resize((self.resolution, self.resolution), Image.BICUBIC)
        if self.hflip and random.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div(255.0)
        return dict(inputs=(x - 0.5) / 0.5, data_samples=dict(prompt=pair['prompt']))
