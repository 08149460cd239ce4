"""The core's own LLM components, shipped as a default plugin through the same contract
("dog-food the contract"): ``manifest.json`` beside this file lists them as ``llm.<Name>``."""

from framework.hookspecs import hookimpl


@hookimpl
def fw_plugin_info():
    return {
        'name': 'llm',
        'paper': '(shared LLM pieces of fw: loaders, corpora, perplexity, KV-cache base classes)',
        'version': '0.1.0',
        'config_dir': None,
        'requires': {'transformers': '==5.24.0', 'safetensors': '>=0.4', 'gguf': '>=0.10'},
    }
