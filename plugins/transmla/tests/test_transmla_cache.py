"""LatentKVCache: stored shapes, live bytes/token == formula, ratio to the dense cache, generate,
save/load round trip, commands on a tiny model directory."""

import copy
import json

import pytest
import torch
from click.testing import CliRunner

from framework.llm.cache import DenseKVCache, cache_nbytes
from framework.llm.models import tiny
from fw_transmla.cache import LatentKVCache
from fw_transmla.calibrate import calibrate
from fw_transmla.convert import convert_exact, convert_mla, load_converted, save_converted

torch.set_num_threads(1)


def _mla(arch='llama', kv_rank=20, rope_dim=8):
    ref = tiny(arch)
    g = torch.Generator().manual_seed(7)
    stats = calibrate(ref, torch.randint(0, 512, (4, 64), generator=g))
    return ref, convert_mla(
        copy.deepcopy(ref), stats, kv_rank=kv_rank, rope_dim=rope_dim, freqfold=2
    )


def test_generate_cache_shapes_and_bytes():
    ref, m = _mla()
    B, P, N = 3, 5, 7
    ids = torch.randint(0, 512, (B, P), generator=torch.Generator().manual_seed(2))
    cache = LatentKVCache.for_model(m)
    out = m.generate(ids, cache=cache, max_new_tokens=N, do_sample=False, pad_token_id=0)
    assert out.shape == (B, P + N)
    T = P + N - 1  # the last generated token is never fed back
    for layer in cache.layers:
        assert layer.keys.shape == (B, 1, T, 8) and layer.values.shape == (B, 1, T, 20)
    L, itemsize = 2, 8
    assert (
        cache.bytes_per_token()
        == LatentKVCache.expected_bytes_per_token(m)
        == L * (20 + 8) * itemsize
    )
    assert cache.get_seq_length() == T
    dense = DenseKVCache.for_model(ref)
    ref.generate(ids, cache=dense, max_new_tokens=N, do_sample=False, pad_token_id=0)
    assert (
        cache_nbytes(dense)
        == 2 * L * 2 * 16 * itemsize * B * T
        == DenseKVCache.expected_bytes_per_token(ref) * B * T
    )
    assert cache.nbytes() / cache_nbytes(dense) == (20 + 8) / (2 * 2 * 16)


def test_generate_matches_full_forward_greedy():
    _, m = _mla('qwen2')
    ids = torch.randint(0, 512, (1, 6), generator=torch.Generator().manual_seed(4))
    out = m.generate(
        ids, cache=LatentKVCache.for_model(m), max_new_tokens=6, do_sample=False, pad_token_id=0
    )
    seq = ids
    with torch.no_grad():
        for _ in range(6):
            nxt = m(input_ids=seq, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
            seq = torch.cat((seq, nxt), 1)
    assert torch.equal(out, seq)


def test_stage_a_cache_bytes_equal_gqa():
    ref = tiny('llama')
    m = convert_exact(copy.deepcopy(ref))
    ids = torch.randint(0, 512, (2, 9))
    c = LatentKVCache.for_model(m)
    with torch.no_grad():
        m(input_ids=ids, cache=c, use_cache=True)
    assert c.mode == 'stage_a'
    assert (
        c.bytes_per_token()
        == DenseKVCache.expected_bytes_per_token(ref)
        == LatentKVCache.expected_bytes_per_token(m)
    )


def test_save_load_round_trip(tmp_path):
    for arch in ('llama', 'qwen2'):
        _, m = _mla(arch)
        save_converted(m, tmp_path / arch)
        back = load_converted(tmp_path / arch, dtype=torch.float64)
        ids = torch.randint(0, 512, (2, 11))
        with torch.no_grad():
            assert torch.equal(back(input_ids=ids).logits, m(input_ids=ids).logits)
        assert back.config.transmla['kv_rank'] == 20
    m = convert_exact(tiny('llama', tie_word_embeddings=True))
    save_converted(m, tmp_path / 'a')
    back = load_converted(tmp_path / 'a', dtype=torch.float64)
    assert back.lm_head.weight.data_ptr() == back.model.embed_tokens.weight.data_ptr()
    with torch.no_grad():
        assert torch.equal(back(input_ids=ids).logits, m(input_ids=ids).logits)


def test_convert_command_on_tiny_dir(tmp_path, monkeypatch):
    """`fw transmla convert` end to end on a saved tiny model (calibration from the pydoc split
    needs a tokenizer: patch the calibration windows to random ids)."""
    from fw_transmla import calibrate, commands

    tiny('llama', dtype=torch.float32).save_pretrained(tmp_path / 'base')
    monkeypatch.setattr(
        calibrate,
        'calibration_windows',
        lambda tok, n=32, length=256, text_path=None: torch.randint(0, 512, (4, 64)),
    )
    r = CliRunner().invoke(
        commands.convert,
        [
            str(tmp_path / 'base'),
            str(tmp_path / 'out'),
            '--kv-rank',
            '24',
            '--rope-dim',
            '8',
            '--freqfold',
            'auto',
        ],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res['cache_bytes_per_token'] == 2 * (24 + 8) * 4 and res['freqfold'] in (2, 4, 8)
    assert set(map(int, res['freqfold_curve'])) >= {2}
    m = load_converted(tmp_path / 'out')
    assert m.model.layers[0].self_attn.kv_rank == 24


def test_convert_command_exact(tmp_path):
    from fw_transmla import commands

    base = tiny('qwen2', dtype=torch.float32)
    base.save_pretrained(tmp_path / 'base')
    r = CliRunner().invoke(
        commands.convert,
        [str(tmp_path / 'base'), str(tmp_path / 'out'), '--exact'],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert (
        res['cache_bytes_per_token'] == res['dense_cache_bytes_per_token'] and res['stage'] == 'a'
    )
    m = load_converted(tmp_path / 'out')
    ids = torch.randint(0, 512, (1, 9))
    with torch.no_grad():
        assert (m(input_ids=ids).logits - base(input_ids=ids).logits).abs().max() <= 1e-4
    bad = CliRunner().invoke(commands.convert, [str(tmp_path / 'base'), str(tmp_path / 'o2')])
    assert bad.exit_code != 0


def test_eval_measure_reports_live_and_formula_bytes():
    from fw_transmla.bench import measure

    class Tok:  # byte-level stand-in for the SmolLM2 tokenizer (tiny vocab 512)
        name_or_path = 'bytes'

        def __call__(self, text, add_special_tokens=False):
            return {'input_ids': list(text.encode()[:4096])}

    ref, m = _mla()
    for model, want in ((m, 2 * (20 + 8) * 8), (ref, 2 * 2 * 2 * 16 * 8)):
        r = measure(model, Tok(), windows=2, window_len=32, contexts=(40,), new_tokens=3)
        assert r['cache_bytes_per_token'] == r['cache_bytes_per_token_formula'] == want
        assert r['decode_tokens_per_s'] > 0 and r['perplexity'] > 1


@pytest.mark.parametrize('impl', ['sdpa', 'eager'])
def test_latent_decode_path_equals_generic_attention_with_mask(impl):
    """One-token steps use ``latent_decode_attention`` (all heads against the single latent head,
    no per-head copy of the cache); it must equal the generic attention-interface path, with a
    padding mask (bool mask for sdpa, additive float mask for eager)."""
    _, m = _mla('qwen2')
    m.config._attn_implementation = impl
    ids = torch.randint(0, 512, (2, 14), generator=torch.Generator().manual_seed(5))
    mask = torch.ones_like(ids)
    mask[0, 2:5] = 0  # row 0 ignores three tokens (every query still sees token 0)
    runs = []
    for fast in (True, False):
        for layer in m.model.layers:
            layer.self_attn.fast_decode = fast
        cache = LatentKVCache.for_model(m)
        with torch.no_grad():
            m(input_ids=ids[:, :8], attention_mask=mask[:, :8], cache=cache, use_cache=True)
            runs.append(
                torch.cat(
                    [
                        m(
                            input_ids=ids[:, t : t + 1],
                            attention_mask=mask[:, : t + 1],
                            cache=cache,
                            use_cache=True,
                        ).logits
                        for t in range(8, 14)
                    ],
                    1,
                )
            )
    # eager runs its softmax in float32 (the decode path keeps float64): 1e-6 there
    assert (runs[0] - runs[1]).abs().max() <= (1e-10 if impl == 'sdpa' else 1e-6)
    assert torch.isfinite(runs[0]).all()
