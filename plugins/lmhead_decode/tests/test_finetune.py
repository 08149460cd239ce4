"""The fine-tune that makes checkpoint B runs through mmengine's Runner: the loss on the stdlib
text falls, --resume continues, `fw test` evaluates, and the saved model is a loadable HF dir."""

import torch

from framework import latest_checkpoint
from framework.llm.data import encode, stdlib_source_text, token_windows
from framework.llm.models import load_causal_lm, load_tokenizer
from framework.train import test as fw_test
from framework.train import train as fw_train
from fw_lmhead_decode.model import loss_on

OPTIONS = [
    'train_cfg.max_iters={n}',
    'train_dataloader.dataset.window=32',
    'test_dataloader.dataset.window=32',
    'test_dataloader.dataset.max_windows=2',
    'default_hooks.checkpoint.interval=3',
    'optim_wrapper.optimizer.lr=1e-2',
    'default_hooks.logger.interval=1',
]


def test_finetune_runner_resume_and_test(tiny_tok_dir, tmp_path):
    opts = [o.format(n=6) for o in OPTIONS] + [f'model.model={tiny_tok_dir}']
    tok = load_tokenizer(str(tiny_tok_dir))
    windows = token_windows(encode(tok, stdlib_source_text()), 32, 4)
    before = loss_on(load_causal_lm(str(tiny_tok_dir)), windows)
    runner = fw_train(
        'lmhead_decode', 'finetune_smollm2_cpu', work_dir=str(tmp_path / 'w'), cfg_options=opts
    )
    assert runner.iter == 6
    tuned = load_causal_lm(str(tmp_path / 'w' / 'finetuned'))
    after = loss_on(tuned, windows)
    assert after < before - 0.1, (before, after)
    # the tied/untied head and every parameter moved (all parameters are trainable)
    base = load_causal_lm(str(tiny_tok_dir))
    assert not torch.equal(base.lm_head.weight, tuned.lm_head.weight)
    opts8 = [o.format(n=8) for o in OPTIONS] + [f'model.model={tiny_tok_dir}']
    resumed = fw_train(
        'lmhead_decode',
        'finetune_smollm2_cpu',
        work_dir=str(tmp_path / 'w'),
        cfg_options=opts8,
        resume=True,
    )
    assert resumed.iter == 8
    last = latest_checkpoint(tmp_path / 'w')
    assert last.endswith('iter_8.pth')
    metrics = fw_test(
        'lmhead_decode',
        'finetune_smollm2_cpu',
        last,
        work_dir=str(tmp_path / 't'),
        cfg_options=opts,
    )
    assert 1 < metrics['llm/ppl'] < 1e6
