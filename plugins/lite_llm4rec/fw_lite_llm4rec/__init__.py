"""fw plugin lite_llm4rec (Lite-LLM4Rec). Light on purpose: fw reads the manifest without torch."""

__version__ = '0.1.0'
