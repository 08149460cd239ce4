"""ItemVectorCache: every item text encoded once by a frozen ItemLLM (paper Sec. 3.2).

Because the Item LLM is frozen (or refreshed after fine-tuning), an item that recurs in many
histories is encoded once; inference gathers rows of E_txt instead of re-reading item tokens.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import torch

from framework import FwError, atomic_replace


def default_cache_dir() -> Path:
    root = os.environ.get('FW_CACHE_DIR') or Path.home() / '.cache' / 'fw'
    return Path(root) / 'lite_llm4rec' / 'item_vectors'


def model_fingerprint(path: str | Path) -> str:
    """sha256 of the model folder's config and weight files (the cache key's model part)."""
    folder = Path(path)
    stamp = tuple(
        (f.name, f.stat().st_size, f.stat().st_mtime_ns)
        for f in sorted(folder.glob('*'))
        if f.is_file()
    )
    return _fingerprint(str(folder), stamp)


@functools.lru_cache(maxsize=16)
def _fingerprint(folder: str, stamp: tuple) -> str:
    digest = hashlib.sha256()
    folder = Path(folder)
    for name in ('config.json', 'model.safetensors', 'pytorch_model.bin'):
        f = folder / name
        if f.is_file():
            digest.update(name.encode())
            with f.open('rb') as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b''):
                    digest.update(chunk)
    return digest.hexdigest()


class ItemVectorCache:
    """E_txt in R^{(n+1) x d_t}: row i = ItemLLM(text_i), row 0 = 0 (padding).

    Args:
        cache_dir (str | None): where vectors are saved (None = ~/.cache/fw/lite_llm4rec/
            item_vectors, or $FW_CACHE_DIR); '' disables saving.

    The key hashes the model files, the pooling settings and every item text, so a changed
    template, model or catalogue never reads stale vectors.
    """

    def __init__(self, cache_dir=None):
        self.cache_dir = None if cache_dir == '' else Path(cache_dir or default_cache_dir())
        self.hits = 0

    @staticmethod
    def key(item_llm, texts: list[str]) -> str:
        digest = hashlib.sha256(
            json.dumps(
                dict(
                    model=model_fingerprint(item_llm.path),
                    pooling=item_llm.pooling,
                    normalize=item_llm.normalize,
                    max_tokens=item_llm.max_tokens,
                )
            ).encode()
        )
        for text in texts:
            digest.update(text.encode('utf-8') + b'\0')
        return digest.hexdigest()[:24]

    @torch.no_grad()
    def build(self, item_llm, texts: list[str]) -> torch.Tensor:
        """Encode ``texts`` (items 1..n) and prepend the zero padding row."""
        was_training = item_llm.training
        item_llm.eval()
        vectors = item_llm.encode(texts).float().cpu()
        item_llm.train(was_training)
        return torch.cat([torch.zeros(1, vectors.shape[1]), vectors])

    def get(self, item_llm, texts: list[str]) -> torch.Tensor:
        """Load the vectors of ``texts`` from disk, or build and save them."""
        if self.cache_dir is None:
            return self.build(item_llm, texts)
        path = self.cache_dir / f'{self.key(item_llm, texts)}.pt'
        if path.is_file():
            try:
                vectors = torch.load(path, map_location='cpu', weights_only=True)
                if vectors.shape[0] == len(texts) + 1:
                    self.hits += 1
                    return vectors
            except (RuntimeError, EOFError, OSError):
                pass  # a truncated file: rebuild it
        vectors = self.build(item_llm, texts)
        self.save(vectors, path)
        return vectors

    @staticmethod
    def save(vectors: torch.Tensor, path: str | Path) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise FwError(
                f'cannot create the item-vector cache folder {path.parent} ({e}); set '
                f'FW_CACHE_DIR to a writable folder'
            ) from None
        tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
        torch.save(vectors, tmp)
        atomic_replace(str(tmp), str(path))

    @staticmethod
    def load(path: str | Path) -> torch.Tensor:
        return torch.load(path, map_location='cpu', weights_only=True)
