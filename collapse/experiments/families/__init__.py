"""Model families for iterative-collapse experiments, behind one small protocol (`protocol.py`), one module each.

A family fits a model on records (`fit(records, seed) -> model`); a model draws records (`sample(n, seed)`)
and scores held-out real data (`evaluate(heldout)`). The runner knows nothing else about a family, so the
closed-form toys, the n-gram LM and a real transformer run through the same loop and the same checks.

Families:
  categorical  ML fit of category frequencies (Seddik et al. 2024); "real" = draws from a Zipf p0
  gaussian     ML mean/variance; "real" = draws from N(0, 1)
  ngram        interpolated Kneser-Ney word n-gram over real text, fixed vocabulary (finite, comparable ppl)
  tiny_lm      (causal_lm) a small Llama built locally, trained with transformers on CPU, sampled through vLLM
  hf_lm        (causal_lm) any Hugging Face causal LM (`base_model`), same loop; meant for a GPU machine
"""

FAMILIES = ("categorical", "gaussian", "ngram", "tiny_lm", "hf_lm")
