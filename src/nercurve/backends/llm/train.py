"""The training path the ``llm`` backends of NER and classification share (:func:`train_llm`;
the loop itself is :func:`nercurve.backends.hf.train.fit`), its training data and dev loss.

A training example is a question and its gold answer as one token sequence; the
loss is computed on the completion only (the answer and the end-of-turn token(s)
that teach the model to stop), never on the prompt: prompt positions carry the
ignored label. Examples longer than ``max_length`` tokens are left out (counted)
rather than cut, since a cut answer would teach broken answers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from nercurve.backends.base import TrainResult
from nercurve.backends.hf.align import IGNORE
from nercurve.backends.hf.train import Evaluate
from nercurve.backends.llm.prompt import Prompter, Unit
from nercurve.errors import BackendError

if TYPE_CHECKING:
    from nercurve.backends.llm.params import LLMParams

T = TypeVar("T")


@dataclass(frozen=True)
class LMExample:
    """Token ids of prompt + completion, labelled on the completion only."""

    input_ids: list[int]
    labels: list[int]


def lm_examples(
    prompter: Prompter, units: Sequence[Unit], *, max_length: int
) -> tuple[list[LMExample], int]:
    """One example per unit and question (each asked as its corpus is, see
    :meth:`Prompter.about`), and how many were too long to keep."""
    tokenizer = prompter.tokenizer
    out: list[LMExample] = []
    too_long = 0
    for unit in units:
        asker = prompter.about(unit)
        for asked in asker.asked():
            prompt, completion = asker.example(unit, asked)
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


class Asking(Protocol):
    """What a task (NER, classification) gives the training path its ``llm`` backends share
    (:func:`train_llm`): its questions and how its answers are scored."""

    def prompter(self, tokenizer: Any) -> Prompter:
        """The job's prompter (its few-shot examples drawn with the job's seed)."""
        ...

    def model(self, net: Any, device: Any) -> Any:
        """The task's model around the loaded network."""
        ...

    def untrained(self) -> dict[str, float]:
        """The numbers stored with a zero- or few-shot arm."""
        ...

    def training(self) -> tuple[list[Unit], dict[str, float]]:
        """The units of the training questions, and counts about them."""
        ...

    def selection(self, model: Any) -> tuple[list[Unit], Evaluate]:
        """The fixed dev sample's units (for the dev loss) and the scorer of ``model``'s dev
        F1."""
        ...


def train_llm(p: LLMParams, seed: int, asking: Asking) -> TrainResult:
    """Load the model and, unless ``p.train`` is false (a zero- or few-shot arm), fine-tune
    it on the task's questions with the loss on the answers, selecting on the dev sample's
    F1 or answer loss (see :mod:`nercurve.backends.llm.ner`)."""
    import torch

    from nercurve.backends.hf import train as hf_train
    from nercurve.backends.llm.load import (
        check_quantization,
        load_causal_lm,
        load_tokenizer,
        resolve,
    )

    device = hf_train.resolve_device(p.device)
    check_quantization(p.quantization, device.type)
    dtype = hf_train.autocast_dtype(device, p.precision)
    source = resolve(p.model, gguf_file=p.gguf_file, revision=p.revision,
                     trust_pickle=p.trust_pickle)
    tokenizer = load_tokenizer(source)
    prompter = asking.prompter(tokenizer)
    hf_train.seed_everything(seed)
    weights = torch.bfloat16 if dtype == torch.bfloat16 else None
    net = load_causal_lm(source, device=device, dtype=weights, quantization=p.quantization)
    model = asking.model(net, device)
    if not p.train:
        return TrainResult(model, extra=asking.untrained())

    train_units, counts = asking.training()
    examples, too_long = lm_examples(prompter, train_units, max_length=p.max_length)
    if not examples:
        raise BackendError(
            f"none of the {len(train_units)} training questions gives an example of at most "
            f"max_length = {p.max_length} tokens",
            hint="check that the training subset is not empty, or raise max_length",
        )
    net = adapted(net, p)
    model.net = net
    selection, dev_f1 = asking.selection(model)
    dev_examples = lm_examples(prompter, selection, max_length=p.max_length)[0]

    def dev_loss() -> tuple[float, dict[str, float]]:
        loss = mean_loss(net, dev_examples, batch_size=p.eval_batch_size, device=device,
                         pad_id=tokenizer.pad_token_id)
        return -loss, {"dev_loss": loss}

    evaluate = dev_f1 if p.select_on == "dev_f1" else dev_loss
    fitted = hf_train.fit(
        net, examples, hf_train.Schedule.of(p, len(examples), learning_rate=p.lr),
        device=device, dtype=dtype, pad_id=tokenizer.pad_token_id, seed=seed,
        evaluate=evaluate if selection else None, loss_of=answer_loss,
    )
    best = fitted.best_score
    if selection and p.select_on == "dev_loss":
        best = dev_f1()[0]
    extra = {"train_tokens_per_s": fitted.tokens_per_s, "train_examples": float(len(examples)),
             "skipped_examples": float(too_long), **counts, **fitted.schedule}
    return TrainResult(model, fitted.steps, fitted.best_step, best, fitted.history, extra,
                       fitted.stop_reason)


def adapted(net: Any, p: LLMParams) -> Any:
    """The model made ready to train: wrapped with a fresh LoRA adapter, or, with ``lora =
    false``, every weight trainable (full fine-tuning)."""
    from nercurve.backends.llm.load import add_lora

    if p.lora:
        net = add_lora(net, r=p.r, alpha=p.alpha, dropout=p.dropout,
                       target_modules=p.target_modules, quantized=p.quantization is not None,
                       gradient_checkpointing=p.gradient_checkpointing)
    else:
        net.requires_grad_(True)
        if p.gradient_checkpointing:
            net.gradient_checkpointing_enable(gradient_checkpointing_kwargs={
                "use_reentrant": False})
    net.config.use_cache = False  # training needs no cache; generation asks for its own
    return net


def dev_sample(found: Sequence[T], limit: int | None) -> list[T]:
    """A fixed sample (the same for every job) of at most ``limit`` dev items, in order."""
    if limit is None or len(found) <= limit:
        return list(found)
    keep = sorted(random.Random(0).sample(range(len(found)), limit))
    return [found[i] for i in keep]
