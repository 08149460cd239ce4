"""The neuron atlas on disk, and search by token or word.

An atlas directory holds, per decoded (matrix, variant):

- ``decode_<matrix>_<variant>.safetensors``: ``ids`` (L, I, k) int32, ``logits`` and ``probs``
  (L, I, k) float32, ``entropy`` and ``norm`` (L, I) float32;
- ``decode_<matrix>_<variant>.json``: its meta (model, sha256 of W_U and of the decoded matrix,
  variant, scale, tau, k, chunking, layers, transformers version, seconds);
- ``index.json``: the decoded string of every vocabulary id (the search index: words -> ids);
- optionally ``decode_<matrix>_<variant>.jsonl``: one line per neuron with its decoded top-k.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from framework import FwError

TENSORS = ('ids', 'logits', 'probs', 'entropy', 'norm')


def vocab_strings(tokenizer, vocab_size: int) -> list[str]:
    """Decoded string of every id (``<id>`` where there is no tokenizer or no such token)."""
    if tokenizer is None:
        return [f'<{i}>' for i in range(vocab_size)]
    n = min(len(tokenizer), vocab_size)
    out = [tokenizer.decode([i]) for i in range(n)]
    return out + [f'<{i}>' for i in range(n, vocab_size)]


def stem(matrix: str, variant: str) -> str:
    return f'decode_{matrix}_{variant}'


def save_atlas(result: dict, out, vocab: list[str], jsonl: bool = False) -> Path:
    """Write one decode (``NeuronDecoder.decode()``'s dict) and the vocabulary index into ``out``."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta = result['meta']
    name = stem(meta['matrix'], meta['variant'])
    tensors = {k: result['tensors'][k].contiguous() for k in TENSORS}
    tensors['ids'] = tensors['ids'].to(torch.int32)
    save_file(
        tensors,
        str(out / f'{name}.safetensors'),
        metadata={'variant': meta['variant'], 'matrix': meta['matrix'], 'scale': meta['scale']},
    )
    (out / f'{name}.json').write_text(json.dumps(meta, indent=1))
    (out / 'index.json').write_text(json.dumps(dict(vocab=vocab)))
    if jsonl:
        ids, probs = tensors['ids'], tensors['probs']
        with open(out / f'{name}.jsonl', 'w') as f:
            for li, layer in enumerate(meta['layers']):
                for i in range(ids.shape[1]):
                    f.write(
                        json.dumps(
                            dict(
                                layer=layer,
                                neuron=i,
                                tokens=[vocab[t] for t in ids[li, i].tolist()],
                                probs=[round(p, 8) for p in probs[li, i].tolist()],
                            )
                        )
                        + '\n'
                    )
    return out


@dataclass
class Atlas:
    """One decode loaded from disk: tensors (L, I, k) / (L, I), its meta and the vocabulary."""

    tensors: dict
    meta: dict
    vocab: list = field(default_factory=list)

    @property
    def layers(self) -> list[int]:
        return list(self.meta['layers'])

    def top1(self) -> torch.Tensor:
        return self.tensors['ids'][..., 0].long()

    def margin(self) -> torch.Tensor:
        lg = self.tensors['logits']
        return (
            lg[..., 0] - lg[..., 1] if lg.shape[-1] > 1 else torch.full(lg.shape[:-1], float('inf'))
        )

    def token_ids(self, query: str, exact: bool = False) -> list[int]:
        """Ids whose decoded string is ``query`` (``exact``) or one of its spellings: with or
        without a leading space, any case, and the plural (``dog`` -> ' dog', 'Dog', ' dogs')."""
        if exact:
            return [i for i, s in enumerate(self.vocab) if s == query]
        word = query.strip().lower()
        if not word:
            raise FwError('find: give a non-empty word or token')
        forms = {word, word + 's', word + 'es'}
        return [i for i, s in enumerate(self.vocab) if s.strip().lower() in forms]

    def find(
        self, query: str, top: int = 1, exact: bool = False, sort: str = 'p', limit: int = 20
    ) -> list[dict]:
        """Neurons whose top-``top`` tokens contain a spelling of ``query``, best first.

        ``sort``: ``p`` (probability of the token) or ``margin`` (z_top1 - z_top2)."""
        if sort not in ('p', 'margin'):
            raise FwError(f"sort '{sort}': choose p or margin")
        wanted = self.token_ids(query, exact)
        if not wanted:
            return []
        ids = self.tensors['ids'][..., :top].long()
        hit = torch.isin(ids, torch.tensor(wanted))
        rows = []
        margin = self.margin()
        for li, i, r in hit.nonzero().tolist():
            t = int(ids[li, i, r])
            rows.append(
                dict(
                    layer=self.layers[li],
                    neuron=i,
                    rank=r + 1,
                    token=self.vocab[t],
                    token_id=t,
                    p=float(self.tensors['probs'][li, i, r]),
                    margin=float(margin[li, i]),
                    entropy=float(self.tensors['entropy'][li, i]),
                    top=[self.vocab[x] for x in self.tensors['ids'][li, i, :5].tolist()],
                )
            )
        key = (
            (lambda d: (d['rank'], -d['p']))
            if sort == 'p'
            else (lambda d: (d['rank'], -d['margin']))
        )
        return sorted(rows, key=key)[:limit]

    def neuron(self, layer: int, index: int) -> dict:
        """Decoded labels of one neuron."""
        if layer not in self.layers:
            raise FwError(
                f'layer {layer} is not in this atlas (layers {self.layers[0]}..{self.layers[-1]})'
            )
        li = self.layers.index(layer)
        ids = self.tensors['ids'][li, index].tolist()
        return dict(
            layer=layer,
            neuron=index,
            tokens=[self.vocab[t] for t in ids],
            ids=ids,
            probs=self.tensors['probs'][li, index].tolist(),
            margin=float(self.margin()[li, index]),
        )


def available(path) -> list[str]:
    return sorted(p.stem for p in Path(path).glob('decode_*.safetensors'))


def load_atlas(path, matrix: str | None = None, variant: str | None = None) -> Atlas:
    """Load one decode of the atlas directory ``path`` (the only one, or the requested one)."""
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    names = available(path) if path.is_dir() else []
    if not names:
        raise FwError(
            f'{path} is not an atlas directory (no decode_<matrix>_<variant>.safetensors); '
            f'build one with `fw lmhead_decode atlas MODEL {path}`'
        )
    want = [
        n
        for n in names
        if (matrix is None or n.split('_')[1] == matrix)
        and (variant is None or n.split('_')[2] == variant)
    ]
    if not want:
        raise FwError(f'{path} has {", ".join(names)}; none for matrix={matrix} variant={variant}')
    if len(want) > 1 and matrix is None and variant is None:
        want = [n for n in want if n == 'decode_up_A'] or want
    name = want[0]
    meta = json.loads((path / f'{name}.json').read_text())
    index = path / 'index.json'
    vocab = (
        json.loads(index.read_text())['vocab']
        if index.is_file()
        else [f'<{i}>' for i in range(meta['vocab'])]
    )
    return Atlas(tensors=load_file(str(path / f'{name}.safetensors')), meta=meta, vocab=vocab)


def decoder_from_config(model: str) -> dict | None:
    """The ``decoder`` dict of a decode config (a packaged config name or a ``.py`` file), or
    None when ``model`` names a model."""
    from framework import load_config

    looks_like_config = model.endswith('.py') or model.startswith('decode_')
    if not looks_like_config:
        return None
    cfg = load_config('lmhead_decode', model)
    if 'decoder' not in cfg:
        raise FwError(f"config {model} has no 'decoder' dict (type='lmhead_decode.NeuronDecoder')")
    return dict(cfg['decoder'])


def build_atlas(spec: dict, out, jsonl: bool = False) -> dict:
    """Build a ``lmhead_decode.NeuronDecoder`` from ``spec`` through the registry, decode, save."""
    from framework import MODELS

    decoder = MODELS.build(dict(spec, type='lmhead_decode.NeuronDecoder'))
    result = decoder.decode()
    vocab = vocab_strings(decoder.tokenizer, result['meta']['vocab'])
    save_atlas(result, out, vocab, jsonl=jsonl)
    return result['meta']


def default_atlas(model: str = 'smollm2', log=print) -> Path:
    """``${FW_CACHE_DIR:-~/.cache/fw}/lmhead_decode/<model>``; built once (up, variant A)."""
    import re

    from framework.llm.models import cache_dir

    slug = re.sub(r'[^A-Za-z0-9_.-]+', '_', str(model).strip('/')).strip('_')[-80:]
    path = cache_dir() / 'lmhead_decode' / slug
    if not available(path):
        log(
            f'no atlas for {model} yet: building {path} once (all up-projection neurons, '
            f'variant A; SmolLM2-135M takes a few minutes on a CPU)'
        )
        build_atlas(dict(model=model), path)
    return path


def summary(atlas: Atlas) -> dict:
    """Distinct top-1 tokens, median p_top1, the most frequent top-1 tokens, time."""
    top1 = atlas.top1().flatten()
    values, counts = top1.unique(return_counts=True)
    order = counts.argsort(descending=True)[:10]
    m = atlas.meta
    return dict(
        file=stem(m['matrix'], m['variant']),
        model=m['model'],
        matrix=m['matrix'],
        variant=m['variant'],
        scale=m['scale'],
        neurons=int(top1.numel()),
        seconds=m['seconds'],
        distinct_top1=int(values.numel()),
        median_p_top1=float(atlas.tensors['probs'][..., 0].median()),
        median_margin=float(atlas.margin().median()),
        most_frequent_top1=[[atlas.vocab[int(values[i])], int(counts[i])] for i in order],
    )
