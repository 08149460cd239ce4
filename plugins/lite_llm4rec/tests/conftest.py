"""Every test runs offline: a stray Hugging Face hub lookup fails loudly instead of downloading."""

import os

os.environ['HF_HUB_OFFLINE'] = '1'
os.environ['TRANSFORMERS_OFFLINE'] = '1'
