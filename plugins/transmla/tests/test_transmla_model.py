"""TransMLAModel (stage E wrapper): loads a converted directory, loss/backward, parameter subsets,
SaveConvertedHook output reloads."""

import copy
from types import SimpleNamespace

import torch

from framework.llm.models import tiny
from fw_transmla.calibrate import calibrate
from fw_transmla.convert import convert_mla, load_converted, save_converted
from fw_transmla.model import SaveConvertedHook, TransMLAModel

torch.set_num_threads(1)


def _converted_dir(tmp_path):
    ref = tiny('qwen2', dtype=torch.float32)
    stats = calibrate(
        ref, torch.randint(0, 512, (4, 64), generator=torch.Generator().manual_seed(0))
    )
    m = convert_mla(copy.deepcopy(ref), stats, kv_rank=24, rope_dim=8, freqfold=2)
    return save_converted(m, tmp_path / 'conv'), m


def test_model_loss_backward_and_subsets(tmp_path):
    d, m = _converted_dir(tmp_path)
    ids = torch.randint(0, 512, (2, 16))
    model = TransMLAModel(model=str(d), train='attention')
    model.init_weights()  # mmengine's Runner calls it: must not re-initialise the converted LM
    losses = model(ids, mode='loss')
    losses['loss'].backward()
    attn = model.lm.model.layers[0].self_attn
    assert attn.w_uk.grad is not None and attn.kv_a.weight.grad is not None
    assert not model.lm.model.layers[0].mlp.up_proj.weight.requires_grad
    with torch.no_grad():
        want = m(input_ids=ids, labels=ids).loss
    assert abs(losses['loss'].item() - want.item()) < 1e-5
    pred = model([ids[0], ids[1]], mode='predict')
    assert pred[0]['count'] == 30
    hook = SaveConvertedHook()
    hook.after_train(
        SimpleNamespace(
            model=model, work_dir=str(tmp_path / 'wd'), logger=SimpleNamespace(info=lambda s: None)
        )
    )
    back = load_converted(tmp_path / 'wd' / 'converted')
    with torch.no_grad():
        assert torch.equal(back(input_ids=ids).logits, model.lm(input_ids=ids).logits)
