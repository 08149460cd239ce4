import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def _activate_wiclp():
    from framework.plugins import activate

    activate('wiclp')


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def tiny_parts():
    """SD's architecture at toy width (CLIP hidden 32, UNet (4, 8), VAE [4, 8]); no download."""
    from fw_wiclp.diffusion import TinyStableDiffusion

    return TinyStableDiffusion(seed=0, embed_dim=32, sample_size=32, sampler='PNDM')
