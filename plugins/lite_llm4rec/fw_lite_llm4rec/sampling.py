"""Training samples (windows / prefixes) and evaluation users as mmengine datasets (Sec. 4.1).

Every sample is left-padded with item 0, so the newest item is always at position N-1.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from framework import FwError

from .data import load_sequence_data


def left_pad(items, length: int) -> np.ndarray:
    """The last ``length`` entries of ``items``, left-padded with 0."""
    out = np.zeros(length, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)[-length:] if length else items[:0]
    if len(items):
        out[length - len(items) :] = items
    return out


def train_windows(seq: np.ndarray, max_len: int) -> list[np.ndarray]:
    """Cut ``seq`` from its end into windows of N+1 items, stepping back by N (oldest last).

    Consecutive windows share one item, so every item after the first is a target exactly once.
    """
    windows, end = [], len(seq)
    while end >= 2:
        windows.append(seq[max(0, end - max_len - 1) : end])
        end -= max_len
    return windows


class SeqRecTrainData(Dataset):
    """Training samples of the train split.

    Args:
        data (dict): the ``data`` config (see ``load_sequence_data``); ``data.max_len`` = N.
        sample_mode (str): ``windows`` (causal models: every non-pad position t predicts item
            t+1) or ``prefixes`` (one sample per prefix; its target sits at position N-1).
        targets_per_user (int | None): with ``prefixes``, keep only each user's last k targets
            (GenRec's CPU default 5); None keeps all.
        max_users (int | None): use only the first ``max_users`` users (tests, smoke runs).

    Items: ``inputs`` [N] item ids and ``targets`` [N] next-item ids (0 = no target);
    ``users`` holds each sample's user.
    """

    def __init__(self, data: dict, sample_mode='windows', targets_per_user=None, max_users=None):
        self.data = load_sequence_data(**data)
        self.max_len = int(data.get('max_len', 50))
        if data.get('num_negatives'):
            raise FwError(
                'data.num_negatives is set, but Lite-LLM4Rec trains with the full '
                'softmax over all items (no negative sampling); remove the key'
            )
        users = range(self.data.n_users if max_users is None else min(max_users, self.data.n_users))
        inputs, targets, owners = [], [], []
        N = self.max_len
        for u in users:
            seq = self.data.train_sequence(u)
            if sample_mode == 'windows':
                for w in train_windows(seq, N):
                    inputs.append(left_pad(w[:-1], N))
                    targets.append(left_pad(w[1:], N))
                    owners.append(u)
            elif sample_mode == 'prefixes':
                first = 1 if targets_per_user is None else max(1, len(seq) - targets_per_user)
                for t in range(first, len(seq)):
                    inputs.append(left_pad(seq[:t], N))
                    tgt = np.zeros(N, dtype=np.int64)
                    tgt[-1] = seq[t]
                    targets.append(tgt)
                    owners.append(u)
            else:
                raise FwError(f"sample_mode is '{sample_mode}'; expected 'windows' or 'prefixes'")
        self.inputs = torch.as_tensor(
            np.stack(inputs) if inputs else np.zeros((0, N)), dtype=torch.long
        )
        self.targets = torch.as_tensor(
            np.stack(targets) if targets else np.zeros((0, N)), dtype=torch.long
        )
        self.users = np.asarray(owners, dtype=np.int64)
        self.metainfo = dict(n_items=self.data.n_items)

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return dict(inputs=self.inputs[i], targets=self.targets[i])

    @property
    def n_targets(self) -> int:
        return int((self.targets > 0).sum())


class SeqRecEvalData(Dataset):
    """Validation or test users: the last N items before the held-out target (Sec. 4.1).

    Args:
        data (dict): the ``data`` config; ``data.max_len`` = N.
        split (str): ``valid`` (target s[-2]) or ``test`` (target s[-1]).
        max_users (int | None): a seeded random subset of this many users (None = all), used for
            GenRec, whose constrained beam search costs seconds per user on a CPU.
        seed (int): the subset's seed.

    Items: ``inputs`` [N], ``target`` (int), ``seen`` [S] the whole history before the target,
    right-padded with 0 (S = longest history), for ``exclude_seen``.
    """

    def __init__(self, data: dict, split='test', max_users=None, seed=0):
        self.data = load_sequence_data(**data)
        self.max_len = int(data.get('max_len', 50))
        users = self.data.eval_users(split)
        if max_users is not None and max_users < len(users):
            rng = np.random.default_rng(seed)
            users = sorted(rng.choice(users, size=max_users, replace=False).tolist())
        self.users = users
        pairs = [self.data.target_and_history(u, split) for u in users]
        width = max((len(h) for _, h in pairs), default=1)
        self.targets = torch.as_tensor([t for t, _ in pairs], dtype=torch.long)
        self.inputs = torch.as_tensor(np.stack([left_pad(h, self.max_len) for _, h in pairs]))
        seen = np.zeros((len(pairs), width), dtype=np.int64)
        for k, (_, h) in enumerate(pairs):
            seen[k, : len(h)] = h
        self.seen = torch.as_tensor(seen)
        self.metainfo = dict(n_items=self.data.n_items, split=split)

    def __len__(self):
        return len(self.users)

    def __getitem__(self, i):
        return dict(inputs=self.inputs[i], target=self.targets[i], seen=self.seen[i])
