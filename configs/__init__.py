"""fw's shared base configs, installed as the package ``framework.configs``.

Plugin configs are layered over the files named in their ``fw_base`` list (default:
``['default_runtime.py']``); ``fw_base = []`` opts out.
"""
