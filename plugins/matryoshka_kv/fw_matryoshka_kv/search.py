"""Adaptive per-(layer, head, K/V) ranks under a cache budget: the greedy search of the paper
(Sec. 3.5, Alg. 1) and the uniform baseline.

State ``R`` (L, g, 2): ranks of K and V, starting at d. Budget ``b`` = kept fraction; the target is
``floor(b * 2 L g d / delta) * delta`` rank units (at least ``2 L g delta``). While ``sum(R)`` is
above the target, every slot s with ``R_s > delta`` is tried one step lower, ``J_s = J(R - delta
e_s)``, and the k slots with the smallest ``J_s`` lose ``delta`` (k = 1: the paper's algorithm;
otherwise ``k = ceil(remaining steps / rounds left)``, at most half the candidates, never
overshooting). Ties go to the lower
slot index. ``J`` is the mean KL(p_base || p_R) over calibration tokens (``objective='kl'``) or the
relative change of the final hidden states against the current ``R`` (``objective='hidden'``).
A trial in layer l reruns layers l..L-1 only, from the stored inputs of layer l under ``R``.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from framework import FwError

from .attention import get_ranks, mkv_modules, set_mode, set_ranks


def target_units(budget: float, L: int, g: int, d: int, delta: int) -> int:
    if not 0 < budget <= 1:
        raise FwError(f'budget {budget}: give the kept fraction of the cache in (0, 1]')
    units = math.floor(budget * 2 * L * g * d / delta + 1e-9) * delta
    return max(units, 2 * L * g * delta)


def uniform_ranks(budget: float, L: int, g: int, d: int, delta: int) -> torch.Tensor:
    """Every slot on the grid value nearest ``budget * d``; adjacent grid values mixed (lower slot
    indices first) so that ``sum(R)`` equals the target exactly. Returns R (L, g, 2)."""
    total = target_units(budget, L, g, d, delta)
    n = 2 * L * g
    lo = max(delta, min(d, int(total // n // delta * delta)))
    flat = torch.full((n,), lo, dtype=torch.long)
    extra = (total - lo * n) // delta
    flat[:extra] += delta
    return flat.view(L, g, 2)


class GreedyRankSearch:
    """Greedy rank search on a MatryoshkaKV causal LM ``lm`` (attention replaced).

    Args: lm, windows (N, T) calibration token ids, delta (grid step), objective (``kl`` or
    ``hidden``), log (callable or None)."""

    def __init__(self, lm, windows: torch.Tensor, delta: int, objective: str = 'kl', log=None):
        if objective not in ('kl', 'hidden'):
            raise FwError(f"search objective {objective!r}: choose 'kl' or 'hidden'")
        self.lm, self.delta, self.objective, self.log = (
            lm,
            delta,
            objective,
            log or (lambda m: None),
        )
        self.mods = mkv_modules(lm)
        self.L, self.g, self.d = len(self.mods), self.mods[0].g, self.mods[0].d
        dev = lm.get_input_embeddings().weight.device
        self.ids = windows.to(dev)
        self.trials = 0
        with torch.no_grad():
            set_mode(lm, 'off')
            self.base_logp = F.log_softmax(
                lm(input_ids=self.ids, use_cache=False).logits.float(), -1
            )
        set_mode(lm, 'truncate')

    # -- forward pieces -------------------------------------------------------------------------
    @torch.no_grad()
    def _capture(self):
        """Inputs (hidden, kwargs) of every decoder layer, final hidden state, at the current R."""
        layers = self.lm.model.layers
        inputs = [None] * self.L

        def hook(i):
            def pre(module, args, kwargs):
                inputs[i] = (
                    args[0] if args else kwargs['hidden_states'],
                    {k: v for k, v in kwargs.items() if k != 'hidden_states'},
                )

            return pre

        handles = [
            layer.register_forward_pre_hook(hook(i), with_kwargs=True)
            for i, layer in enumerate(layers)
        ]
        try:
            out = self.lm.model(input_ids=self.ids, use_cache=False)
        finally:
            for hd in handles:
                hd.remove()
        self.inputs, self.final_hidden = inputs, out.last_hidden_state

    @torch.no_grad()
    def _run_from(self, layer: int) -> torch.Tensor:
        h = self.inputs[layer][0]
        for i in range(layer, self.L):
            h = self.lm.model.layers[i](h, **self.inputs[i][1])
        return self.lm.model.norm(h)

    def _score(self, hidden: torch.Tensor) -> float:
        if self.objective == 'hidden':
            return float((hidden - self.final_hidden).norm() / self.final_hidden.norm())
        lp = F.log_softmax(self.lm.lm_head(hidden).float(), -1)
        return float((self.base_logp.exp() * (self.base_logp - lp)).sum(-1).mean())

    @torch.no_grad()
    def kl(self, R: torch.Tensor) -> float:
        """Mean KL(p_base || p_R) per calibration token at ranks R (L, g, 2)."""
        set_ranks(self.lm, R[..., 0], R[..., 1])
        lp = F.log_softmax(self.lm(input_ids=self.ids, use_cache=False).logits.float(), -1)
        return float((self.base_logp.exp() * (self.base_logp - lp)).sum(-1).mean())

    # -- the search -----------------------------------------------------------------------------
    @torch.no_grad()
    def step_scores(self, R: torch.Tensor) -> dict[int, float]:
        """J for every slot that can still lose ``delta``: {flat slot index: J}."""
        set_ranks(self.lm, R[..., 0], R[..., 1])
        self._capture()
        scores = {}
        flat = R.view(-1)
        for layer in range(self.L):
            mod = self.mods[layer]
            for j in range(self.g):
                for w in range(2):
                    s = (layer * self.g + j) * 2 + w
                    if flat[s] <= self.delta:
                        continue
                    r = getattr(mod.proj, 'r_K' if w == 0 else 'r_V')
                    r[j] -= self.delta
                    scores[s] = self._score(self._run_from(layer))
                    r[j] += self.delta
                    self.trials += 1
        return scores

    def run(self, budget: float, R: torch.Tensor | None = None, rounds='exact') -> dict:
        """Reduce R (default: all d) to the budget's target. ``rounds``: ``'exact'`` (k = 1) or
        the number of rounds. Returns the result dict (see module docstring)."""
        L, g, d, delta = self.L, self.g, self.d, self.delta
        R = torch.full((L, g, 2), d, dtype=torch.long) if R is None else R.clone()
        target = target_units(budget, L, g, d, delta)
        if rounds != 'exact' and int(rounds) < 1:
            raise FwError(f'--rounds {rounds}: give exact or a positive number of rounds')
        rounds_left = None if rounds == 'exact' else int(rounds)
        t0, history = time.time(), []
        while int(R.sum()) > target:
            remaining = (int(R.sum()) - target) // delta
            k = 1 if rounds_left is None else math.ceil(remaining / max(rounds_left, 1))
            scores = self.step_scores(R)
            if not scores:
                break
            # at most half the candidates per round: with k = all slots every slot would drop
            # one step and the result would be the uniform allocation (extra rounds follow)
            k = min(k, remaining, math.ceil(len(scores) / 2))
            order = sorted(scores, key=lambda s: (scores[s], s))[:k]
            flat = R.view(-1)
            for s in order:
                flat[s] -= delta
            history.append(
                dict(
                    units=int(R.sum()),
                    reduced=len(order),
                    best_J=scores[order[0]],
                    seconds=round(time.time() - t0, 1),
                )
            )
            self.log(
                f'budget {budget}: {int(R.sum())}/{target} units after reducing {len(order)} '
                f'slots (best J {scores[order[0]]:.5f}, {time.time() - t0:.0f} s)'
            )
            if rounds_left is not None:
                rounds_left = max(rounds_left - 1, 1)
        return self.result(R, budget, target, rounds, history)

    def result(self, R: torch.Tensor, budget: float, target: int, rounds, history) -> dict:
        L, g, d = self.L, self.g, self.d
        J = self.kl(R)
        return dict(
            budget=budget,
            target_units=target,
            units=int(R.sum()),
            kept_fraction=int(R.sum()) / (2 * L * g * d),
            K_fraction=int(R[..., 0].sum()) / (L * g * d),
            V_fraction=int(R[..., 1].sum()) / (L * g * d),
            J=J,
            objective=self.objective,
            rounds=rounds,
            delta=self.delta,
            calib_windows=int(self.ids.shape[0]),
            calib_len=int(self.ids.shape[1]),
            R_K=R[..., 0].tolist(),
            R_V=R[..., 1].tolist(),
            history=history,
        )


def current_ranks(lm) -> torch.Tensor:
    R_K, R_V = get_ranks(lm)
    return torch.stack((R_K, R_V), -1)
