"""Data pipeline ①–⑤: corpus sources, language sampling, tokenizer, token shards, MLM batches.

Import rule: nothing in here imports the model or Lightning.
"""
