"""pluggy hooks of the transmla plugin (components and commands come from manifest.json)."""
from framework.hookspecs import hookimpl


@hookimpl
def fw_plugin_info():
    return {"name": "transmla",
            "paper": "TransMLA: Multi-Head Latent Attention Is All You Need (arXiv 2502.07864)",
            "version": "0.1.0", "config_dir": "configs",
            "requires": {"torch": ">=2.1", "transformers": "==5.24.0", "mmengine": ">=0.10.7,<1.0"}}
