"""VLM pseudo-label sources: disk format, generator protocol, CEG rule, synthetic oracle."""
