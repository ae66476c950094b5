"""The ``hf`` backends: Hugging Face transformers fine-tuned for NER (:mod:`.ner`, a token
classifier) and for text classification (:mod:`.classify`, a pooled head), with their model
loading (:mod:`.load`, :mod:`.presets`), word/subword alignment (:mod:`.align`) and the torch
training loop they and the ``llm`` backends share (:mod:`.train`)."""
