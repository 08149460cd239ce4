"""The commands on a tiny model with SmolLM2's tokenizer: atlas -> find -> compare -> clamp, the
on-disk atlas format and the word search."""

import json

import torch
from click.testing import CliRunner

from framework.cli import cli
from fw_lmhead_decode.atlas import Atlas, load_atlas


def _run(*args):
    res = CliRunner().invoke(cli, list(map(str, args)), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_atlas_find_compare(tiny_tok_dir, tmp_path):
    out = tmp_path / 'atlas'
    res = _run('lmhead_decode', 'atlas', tiny_tok_dir, out, '--variant', 'A,B', '--jsonl', '--json')
    assert [d['variant'] for d in res['decodes']] == ['A', 'B']
    assert {p.name for p in out.iterdir()} >= {
        'decode_up_A.safetensors',
        'decode_up_A.json',
        'decode_up_B.safetensors',
        'index.json',
        'decode_up_A.jsonl',
    }
    at = load_atlas(out, 'up', 'A')
    assert at.tensors['ids'].shape == (2, 128, 10) and at.tensors['ids'].dtype == torch.int32
    assert at.meta['variant'] == 'A' and len(at.meta['sha256_lm_head']) == 64
    # round trip: the file holds exactly what a fresh decode gives
    from framework import MODELS

    fresh = MODELS.build(dict(type='lmhead_decode.NeuronDecoder', model=str(tiny_tok_dir))).decode()
    assert all(torch.equal(fresh['tensors'][k], at.tensors[k]) for k in at.tensors)
    line = json.loads((out / 'decode_up_A.jsonl').read_text().splitlines()[5])
    assert line['tokens'][0] == at.vocab[int(at.tensors['ids'][0, 5, 0])]
    token = at.vocab[int(at.tensors['ids'][1, 7, 0])]
    hits = _run('lmhead_decode', 'find', token, '--exact', '--atlas', out, '--json')
    assert {'layer': 1, 'neuron': 7} in [
        {k: h[k] for k in ('layer', 'neuron')} for h in hits['neurons']
    ]
    assert all(h['rank'] == 1 and h['token'] == token for h in hits['neurons'])
    same = _run('lmhead_decode', 'compare', out, tiny_tok_dir, '--json')
    assert same['agree1'] == 1.0 and same['jaccard'] == 1.0 and same['chance'] < 1.0


def test_word_search_spellings():
    vocab = [' dog', 'Dog', ' dogs', ' Doge', 'cat', ' DOG', 'hotdog']
    ids = torch.tensor([[[0, 4], [4, 1], [2, 4], [3, 4], [4, 6], [5, 4]]], dtype=torch.int32)
    probs = torch.tensor(
        [[[0.1, 0.05], [0.3, 0.2], [0.2, 0.1], [0.9, 0.01], [0.5, 0.4], [0.05, 0.01]]]
    )
    at = Atlas(
        tensors=dict(
            ids=ids,
            probs=probs,
            logits=probs.log(),
            entropy=torch.zeros(1, 6),
            norm=torch.ones(1, 6),
        ),
        meta=dict(layers=[3], k=2),
        vocab=vocab,
    )
    top1 = at.find('dog')
    assert [(h['neuron'], h['token']) for h in top1] == [(2, ' dogs'), (0, ' dog'), (5, ' DOG')]
    top2 = at.find('Dog', top=2)
    assert [h['neuron'] for h in top2] == [2, 0, 5, 1]  # rank 1 first, then by p
    assert [h['neuron'] for h in at.find(' dog', exact=True)] == [0]
    assert at.find('hot') == []


def test_clamp_command(tiny_tok_dir):
    res = _run(
        'lmhead_decode',
        'clamp',
        tiny_tok_dir,
        '1:7',
        '--kappa',
        '5',
        '--new-tokens',
        3,
        '--prompt',
        'Hello there',
        '--calib-tokens',
        64,
        '--json',
    )
    roles = {n['role'] for n in res['neurons']}
    assert roles == {'target', 'control'}
    effect = {n['role']: n for n in res['effect']['neurons']}
    # both share the unclamped run of the same token
    assert effect['target']['p_off'] == effect['control']['p_off']
    target = res['neurons'][0]
    assert target['sign'] == (1.0 if target['direct_logit_z'] >= 0 else -1.0)
    assert set(effect['target']['by_kappa']) == {'0.0', str(5.0 * target['sign'])}
