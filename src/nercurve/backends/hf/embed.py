"""Document embeddings from the offline MiniLM encoder (all-MiniLM-L6-v2), for diversity
selection: each sentence is encoded, its token vectors mean-pooled over the attention mask
and normalised (as sentence-transformers does for this model), and a document's vector is
the normalised mean of its sentences' vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nercurve.backends.hf.load import quiet
from nercurve.backends.hf.presets import resolve_preset
from nercurve.corpus.model import Doc

#: The encoder's name in records, and the longest sentence it reads (in word pieces).
EMBEDDER = "all-MiniLM-L6-v2"
MAX_TOKENS = 128


def _sentences(doc: Doc) -> list[str]:
    """A document's sentence texts (the whole text when it has no sentences)."""
    found = [doc.text[a:b] for a, b in (doc.sentences or ()) if doc.text[a:b].strip()]
    return found or [doc.text or " "]


def embed_documents(docs: Sequence[Doc], *, batch_size: int = 64) -> np.ndarray:
    """One unit-length vector per document (rows in order; see the module docstring)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = resolve_preset("minilm")
    with quiet():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
    texts: list[str] = []
    owner: list[int] = []
    for i, doc in enumerate(docs):
        found = _sentences(doc)
        texts += found
        owner += [i] * len(found)
    # batches of sentences of similar length pad little
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True,
                                              max_length=MAX_TOKENS)["input_ids"]]
    order = np.argsort(lengths, kind="stable")
    sentences = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            sentences[rows] = torch.nn.functional.normalize(pooled, dim=1).numpy()
    out = np.zeros((len(docs), sentences.shape[1]), dtype=np.float64)
    np.add.at(out, np.asarray(owner, dtype=int), sentences.astype(np.float64))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
