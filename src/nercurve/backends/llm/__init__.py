"""The ``llm`` backends: a causal language model asked about entities (:mod:`.ner`) or
classes (:mod:`.classify`): prompts (:mod:`.prompt`), answers (:mod:`.answer`), answer
grammars (:mod:`.grammar`), batched decoding (:mod:`.decode`), model loading
(:mod:`.load`) and the fine-tuning path both tasks share (:mod:`.train`)."""
