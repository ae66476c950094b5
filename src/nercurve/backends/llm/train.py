"""Training data and the dev loss of the ``llm`` backend (the loop itself is ``hf_train.fit``).

A training example is a question and its gold answer as one token sequence; the
loss is computed on the completion only (the answer and the end-of-turn token(s)
that teach the model to stop), never on the prompt: prompt positions carry the
ignored label. Examples longer than ``max_length`` tokens are left out (counted)
rather than cut, since a cut answer would teach broken answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nercurve.backends.hf.align import IGNORE
from nercurve.backends.llm.prompt import Prompter, Unit


@dataclass(frozen=True)
class LMExample:
    """Token ids of prompt + completion, labelled on the completion only."""

    input_ids: list[int]
    labels: list[int]


def lm_examples(
    prompter: Prompter, units: Sequence[Unit], *, max_length: int
) -> tuple[list[LMExample], int]:
    """One example per unit and question, and how many were too long to keep."""
    tokenizer = prompter.tokenizer
    out: list[LMExample] = []
    too_long = 0
    for unit in units:
        for asked in prompter.asked():
            prompt, completion = prompter.example(unit, asked)
            head = tokenizer(prompt, add_special_tokens=not prompter.chat)["input_ids"]
            tail = tokenizer(completion, add_special_tokens=False)["input_ids"]
            if len(head) + len(tail) > max_length:
                too_long += 1
                continue
            out.append(LMExample([*head, *tail], [IGNORE] * len(head) + list(tail)))
    return out, too_long


def answer_loss(net: Any, batch: dict[str, Any]) -> Any:
    """The model's loss on the labelled (answer) tokens, with the vocabulary projection
    computed only from the first answer token on (``logits_to_keep``): the prompt's
    logits are never needed, and on a 49k-token vocabulary they cost a fifth of a step."""
    labels = batch["labels"]
    labelled = (labels != IGNORE).any(0).nonzero()
    keep = labels.shape[1] - int(labelled[0]) + 1 if len(labelled) else 1
    return net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
               labels=labels[:, -keep:], logits_to_keep=keep).loss


def mean_loss(
    net: Any, examples: Sequence[LMExample], *, batch_size: int, device: Any, pad_id: int
) -> float:
    """The completion-token loss over ``examples`` (each token weighs the same)."""
    import torch

    from nercurve.backends.hf.train import collate

    total, count = 0.0, 0
    was_training = net.training
    net.eval()
    with torch.inference_mode():
        for b in range(0, len(examples), batch_size):
            batch = collate(examples[b : b + batch_size], pad_id, device)
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            total += float(answer_loss(net, batch)) * n
            count += n
    net.train(was_training)
    return total / count if count else 0.0
