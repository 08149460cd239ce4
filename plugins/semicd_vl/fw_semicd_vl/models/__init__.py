"""Network: SemiCDVL segmentor, LightHead with dual projection head, losses."""
