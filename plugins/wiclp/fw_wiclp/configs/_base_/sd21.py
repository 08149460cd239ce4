# SD 2.1 (768 px, v-prediction, 1024-d text embeddings) on top of sd14.py (paper Sec. 5-6).
_base_ = ['./sd14.py']

train_cfg = dict(max_iters=25000)  # the authors' README for SD 2.1
model_dir = '/path/to/stable-diffusion-2-1'
model = dict(
    diffusion=dict(model_dir=model_dir, gradient_checkpointing=True),
    projector=dict(
        dim=1024
    ),  # the loss target comes from the checkpoint's scheduler (v_prediction)
)
train_dataloader = dict(batch_size=4, dataset=dict(resolution=768))
