"""Shared pieces of the LLM plugins (transmla, matryoshka_kv, lmhead_decode).

Optional extra ``fw[llm]``: torch, transformers==5.24.0, safetensors, gguf, accelerate.
This package file is light; import the submodules (``framework.llm.models``, ``.data``,
``.evaluate``, ``.attention``, ``.cache``, ``.runner``) only where an LLM component is built.
``fw list`` reads ``framework/llm/manifest.json`` and never imports this package.
"""

TRANSFORMERS_PIN = '5.24.0'
