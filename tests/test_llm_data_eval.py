"""Corpora, token windows, LocalText formats, perplexity = hand-computed exp(mean NLL)."""

import json
import math

import torch

from framework.llm.data import (
    HELDOUT_TOPICS,
    local_text,
    pydoc_text,
    stdlib_source_text,
    token_windows,
)
from framework.llm.evaluate import kl_divergence, perplexity
from framework.llm.models import tiny

torch.set_num_threads(1)


def test_pydoc_split():
    from pydoc_data.topics import topics

    held, train = pydoc_text('heldout'), pydoc_text('train')
    vals = list(topics.values())
    assert held == '\n'.join(vals[:HELDOUT_TOPICS]) and train == '\n'.join(vals[HELDOUT_TOPICS:])
    assert len(held) + len(train) + 1 == len('\n'.join(vals))
    keys = list(topics)
    assert len(keys) == len(set(keys)) and not set(keys[:HELDOUT_TOPICS]) & set(
        keys[HELDOUT_TOPICS:]
    )
    assert (
        'def ArgumentParser' not in stdlib_source_text()
        and 'class ArgumentParser' in stdlib_source_text()
    )


def test_windows():
    ids = torch.arange(1000)
    w = token_windows(ids, 256)
    assert w.shape == (3, 256) and torch.equal(w[1], torch.arange(256, 512))
    assert token_windows(ids, 100, 4).shape == (4, 100)


def test_local_formats(tmp_path):
    recs = [f'record {i}' for i in range(5)]
    (tmp_path / 'r.jsonl').write_text('\n'.join(json.dumps({'text': r}) for r in recs))
    assert local_text(str(tmp_path / 'r.jsonl')) == '\n'.join(recs)
    (tmp_path / 'alpaca_data.json').write_text(
        json.dumps(
            [{'instruction': f'do {i}', 'input': '', 'output': f'done {i}'} for i in range(5)]
        )
    )
    assert local_text(str(tmp_path / 'alpaca_data.json')).splitlines()[:2] == ['do 0', 'done 0']
    (tmp_path / 'a.txt').write_text('plain')
    assert local_text(str(tmp_path / '*.txt')) == 'plain'
    import pyarrow as pa  # the llm extra installs it
    import pyarrow.parquet as pq

    pq.write_table(pa.table({'text': recs}), tmp_path / 'test-00000-of-00001.parquet')
    assert local_text(str(tmp_path / 'test-*.parquet')) == '\n'.join(recs)


def test_perplexity_by_hand_and_kl():
    m = tiny('llama')
    w = torch.randint(0, 512, (3, 20), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        lp = torch.log_softmax(m(input_ids=w).logits, -1)
    nll = -sum(lp[b, t, w[b, t + 1]].item() for b in range(3) for t in range(19)) / (3 * 19)
    r = perplexity(m, w, batch_size=2)
    assert abs(r['ppl'] - math.exp(nll)) / math.exp(nll) <= 1e-6 and r['tokens'] == 57
    assert abs(kl_divergence(m, m, w)) < 1e-12
