"""⑧ Downstream evaluations of a pretrained encoder (design §2 ⑧).

  config     torch-free config dataclasses (imported by xlmr.config, so this package must stay light)
  tasks      labelled classification tasks: the synthetic corpus' topic task, XNLI 1.0 (files or `datasets`)
  transfer   zero-shot cross-lingual transfer: fine-tune on English, test on every language
  retrieval  English↔X sentence retrieval without fine-tuning
  stage      what a finished run evaluates, merged into its per-language metrics

Nothing is imported here: `import xlmr.eval` must not pull in torch.
"""
