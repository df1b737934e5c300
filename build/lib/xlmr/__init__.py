"""xlmr-scaling: multilingual masked-LM scaling ablations in the style of XLM-R (Conneau et al., 2019)."""

__version__ = "0.1.0"
