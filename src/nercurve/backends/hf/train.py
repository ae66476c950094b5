"""How the ``hf`` and ``llm`` backends train: the transformers ``Trainer``, devices,
precision, early stopping with the best weights kept in memory.

:func:`fit` serves every backend that trains a torch model on token ids with per-position
labels (the ``hf`` token classifier and text classifier, the ``llm`` backend's causal LM with
its adapters, quantized or not): it takes a :class:`Schedule`, examples with ``input_ids``
and ``labels``, and a function that scores the dev set, and trains through the library's
``Trainer``: its AdamW (bias and LayerNorm weights not decayed), a linear warm-up over
``warmup_steps`` then a linear decay to zero at ``max_steps``, gradients clipped to
``max_grad_norm``, and its random sampler, seeded with the run's seed (as are dropout and,
by the backends, the head's initialisation). Steps are optimizer steps (each one
``grad_accum`` batches). On a GPU, ``bf16`` or ``fp16`` autocast runs the forward pass
(``fp16`` with loss scaling); the run stays on its one device (never ``DataParallel``).

The ``Trainer`` never evaluates, saves or logs by itself, prints nothing and writes no file.
A callback scores the dev set with nercurve's own scorer when the schedule's
:class:`~nercurve.backends.loop.Cadence` says an evaluation is due (every ``eval_every``
steps, and early ones with ``dense-early``; it draws the one random number that the
Trainer's own evaluation loop draws, so that the dropout masks that follow, and the trained
weights, are the library recipe's), hands the report to the one stop rule
(:class:`~nercurve.backends.loop.Follower`: patience, the noise rule, ``max_steps``) and stops
the run when it says so; the trainable parameters of the best step (a copy kept on the CPU,
never a checkpoint file; only the adapter when the base model is frozen) are restored at the
end. The schedule may scale with the data (:class:`~nercurve.backends.loop.ScheduleParams`;
a pass over the training examples is ``examples / (batch_size · grad_accum)`` steps), and the
stop rule may ask for progress beyond the dev score's bootstrap SE (``stop = "noise"``: the
dev scorer then reports the SE under :data:`~nercurve.backends.base.SE_KEY`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from nercurve.backends.base import SE_KEY
from nercurve.backends.hf.align import IGNORE, Example
from nercurve.backends.loop import Cadence, Follower, Progress, cadence, epoch_steps
from nercurve.errors import BackendError

if TYPE_CHECKING:
    import torch

Evaluate = Callable[[], tuple[float, dict[str, float]]]
"""Scores the dev set: the selection score (higher is better) and numbers for the history."""


class Tokens(Protocol):
    """A training example: token ids and a label per position (``IGNORE``: no loss there)."""

    @property
    def input_ids(self) -> Sequence[int]:
        """Token ids."""
        ...

    @property
    def labels(self) -> Sequence[int]:
        """One label per token id."""
        ...


@dataclass(frozen=True)
class Schedule:
    """The optimisation settings :func:`fit` follows."""

    learning_rate: float
    weight_decay: float
    warmup_steps: int
    max_steps: int
    batch_size: int
    grad_accum: int
    max_grad_norm: float
    #: When the dev set is scored and how long the run waits for progress.
    cadence: Cadence

    @classmethod
    def of(cls, params: Any, examples: int, **changes: Any) -> Schedule:
        """The schedule held by a backend's parameters (an object with these attributes,
        ``eval_every``, ``patience`` and the :class:`~nercurve.backends.loop.ScheduleParams`)
        for ``examples`` training examples, with ``changes`` applied. Where the parameters
        have ``epochs`` (and ``min_steps``), they set ``max_steps`` (:func:`epoch_steps`)."""
        values = {f.name: getattr(params, f.name) for f in fields(cls) if f.name != "cadence"}
        values["max_steps"] = epoch_steps(
            examples, getattr(params, "epochs", None), batch_size=params.batch_size,
            grad_accum=params.grad_accum, max_steps=params.max_steps,
            min_steps=getattr(params, "min_steps", 0),
        )
        values["cadence"] = cadence(
            params, eval_every=params.eval_every, patience=params.patience,
            per_epoch=lambda: examples / (params.batch_size * params.grad_accum),
        )
        return cls(**{**values, **changes})


def resolve_device(spec: str) -> torch.device:
    """The torch device for ``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` (``auto``: CUDA if any)."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise BackendError(
            f"device {spec!r} asked for, but torch sees no CUDA GPU",
            hint="set device = \"auto\" or \"cpu\", or check CUDA_VISIBLE_DEVICES and that "
            "the installed torch is a CUDA build",
        )
    device = torch.device(spec)
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise BackendError(
            f"device {spec!r} asked for, but only {torch.cuda.device_count()} GPU(s) are "
            "visible to this process",
            hint="GPU numbers count the GPUs listed in CUDA_VISIBLE_DEVICES; use \"cuda\"",
        )
    return device


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast type for a precision setting on a device (``None``: full fp32)."""
    import torch

    if precision == "fp32":
        return None
    if device.type != "cuda":
        if precision == "fp16":
            raise BackendError(
                "precision \"fp16\" needs a CUDA GPU",
                hint="use precision = \"auto\" (fp32 on a CPU) or \"bf16\"",
            )
        return torch.bfloat16 if precision == "bf16" else None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def seed_everything(seed: int) -> None:
    """Seed torch's generators (CPU and every GPU): head initialisation and dropout."""
    import torch

    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def collate(
    examples: Sequence[Tokens], pad_id: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """Right-padded tensors for a batch, on ``device``."""
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


def predict_labels(
    model: Any,
    examples: Sequence[Example],
    *,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype | None,
    pad_id: int,
) -> list[dict[int, int]]:
    """Predicted label id per owned word (word index -> id) for each example."""
    import torch

    out: list[dict[int, int]] = [{} for _ in examples]
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    was_training = model.training
    model.eval()
    with torch.inference_mode(), autocast(device, dtype):
        for b in range(0, len(order), batch_size):
            chunk = order[b : b + batch_size]
            batch = collate([examples[i] for i in chunk], pad_id, device)
            best = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits.argmax(-1).cpu()
            for row, i in enumerate(chunk):
                out[i] = {w: int(best[row, p]) for w, p in examples[i].positions.items()}
    model.train(was_training)
    return out


def autocast(device: torch.device, dtype: torch.dtype | None) -> Any:
    """Autocast to ``dtype`` on ``device`` (``None``: off, full fp32)."""
    import torch

    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


@dataclass
class FitResult:
    """How a training run went (the model holds the best weights afterwards)."""

    steps: int
    best_step: int
    #: The best dev score (``None`` without a dev set).
    best_score: float | None
    history: list[dict[str, float]] = field(default_factory=list)
    #: Tokens (padding excluded) the optimizer saw, and the seconds spent training them
    #: (dev evaluations excluded).
    train_tokens: int = 0
    train_seconds: float = 0.0
    #: Why training stopped (:data:`~nercurve.backends.loop.StopReason`).
    stop_reason: str = "max_steps"
    #: The schedule in force (:meth:`~nercurve.backends.loop.Cadence.numbers`).
    schedule: dict[str, float] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        """Training throughput in tokens per second."""
        return self.train_tokens / self.train_seconds if self.train_seconds > 0 else 0.0


def fit(
    model: Any,
    examples: Sequence[Tokens],
    schedule: Schedule,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    pad_id: int,
    seed: int,
    evaluate: Evaluate | None,
    loss_of: Callable[[Any, dict[str, torch.Tensor]], torch.Tensor] | None = None,
) -> FitResult:
    """Train ``model`` in place on ``examples`` through the transformers ``Trainer`` on
    ``device`` (autocast to ``dtype``; ``pad_id`` pads the batches; ``seed`` seeds dropout
    and the batch order) until the stop rule or ``max_steps`` ends the run, and restore the
    best weights. ``evaluate`` scores the dev set when the schedule's cadence says an
    evaluation is due (``None``: no dev set, the last step is kept); ``loss_of(model,
    batch)`` is the loss of a batch (default: the model's own)."""
    import tempfile

    import torch

    named = _trainable(model)
    best_state: dict[str, torch.Tensor] = {}

    def keep() -> None:
        best_state.update({n: p.detach().to("cpu", copy=True) for n, p in named})

    follower = Follower(keep, patience=schedule.cadence.patience,
                        max_steps=schedule.max_steps, noise=schedule.cadence.noise)
    with tempfile.TemporaryDirectory(prefix="nercurve-trainer-") as scratch:
        trainer = _trainer(model, examples, schedule, follower, device=device, dtype=dtype,
                           pad_id=pad_id, seed=seed, evaluate=evaluate, loss_of=loss_of,
                           output_dir=scratch)
        trainer.train()
    followed = follower.followed
    last = followed.last
    assert last is not None  # max_steps >= 1: at least the last step reports
    kept = last.step if followed.kept_step is None else followed.kept_step  # no dev: the last
    if kept != last.step:
        with torch.no_grad():
            for name, param in named:
                param.copy_(best_state[name])
    return FitResult(last.step, kept, followed.best_score, followed.history, last.tokens,
                     last.seconds, followed.reason, schedule.cadence.numbers())


def _trainer(
    model: Any,
    examples: Sequence[Tokens],
    schedule: Schedule,
    follower: Follower,
    *,
    device: torch.device,
    dtype: torch.dtype | None,
    pad_id: int,
    seed: int,
    evaluate: Evaluate | None,
    loss_of: Callable[[Any, dict[str, torch.Tensor]], torch.Tensor] | None,
    output_dir: str,
) -> Any:
    """A transformers ``Trainer`` for :func:`fit`: the run's schedule with the Trainer's own
    AdamW, linear schedule and random sampler, on ``device`` alone (never ``DataParallel``),
    quiet (no progress bar, log, report or file: ``output_dir`` stays empty), and a callback
    that scores the dev set when due and hands each report to ``follower``, stopping the run
    when it says so."""
    import functools
    import time

    import torch
    from transformers import PrinterCallback, Trainer, TrainerCallback, TrainingArguments

    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())

    class OneDevice(TrainingArguments):
        """Training arguments that place the run on ``device`` alone: the Trainer's own
        choice is the first GPU, with ``DataParallel`` over every visible one."""

        @functools.cached_property
        def _setup_devices(self) -> torch.device:
            TrainingArguments._setup_devices.func(self)  # type: ignore[attr-defined]
            self._n_gpu = int(device.type == "cuda")
            if device.type == "cuda":
                torch.cuda.set_device(device)  # the accelerator's "cuda" is this GPU
            return device

    args = OneDevice(
        output_dir=output_dir, max_steps=schedule.max_steps,
        per_device_train_batch_size=schedule.batch_size,
        gradient_accumulation_steps=schedule.grad_accum,
        learning_rate=schedule.learning_rate, weight_decay=schedule.weight_decay,
        warmup_steps=min(schedule.warmup_steps, schedule.max_steps), lr_scheduler_type="linear",
        max_grad_norm=schedule.max_grad_norm, seed=seed, data_seed=seed,
        use_cpu=device.type == "cpu", bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16,
        eval_strategy="no", save_strategy="no", logging_strategy="no", report_to=[],
        disable_tqdm=True, remove_unused_columns=False, label_names=["labels"],
        dataloader_pin_memory=device.type == "cuda",
        include_num_input_tokens_seen="non_padding",
    )
    running = torch.zeros((), device=device)  # the loss since the last report

    class Quiet(Trainer):
        """The Trainer with nercurve's loss (``loss_of``) and a running loss for the
        history."""

        loss_is_scaled_for_ga = False if loss_of is not None else None

        def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            if loss_of is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            return loss_of(model, inputs)

        def training_step(self, model: Any, inputs: dict[str, Any],
                          num_items_in_batch: Any = None) -> torch.Tensor:
            loss = super().training_step(model, inputs, num_items_in_batch)
            running.add_(loss.float())
            return loss

    class Reports(TrainerCallback):
        """Scores the dev set when the cadence says an evaluation is due (and at the last
        step), hands the report to the follower and stops the run when it says so."""

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = self.tick = time.perf_counter()
            self.train_seconds, self.since = 0.0, 0

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step = state.global_step
            self.since += 1
            if not schedule.cadence.due(step) and step < schedule.max_steps:
                return
            now = time.perf_counter()
            self.train_seconds += now - self.tick
            row = {"step": float(step), "loss": float(running) / self.since,
                   "seconds": now - self.started}
            running.zero_()
            self.since = 0
            score = None
            if evaluate is not None:
                # The Trainer's own evaluation loop draws its DataLoader's base seed from
                # torch's generator: drawing it here too keeps the dropout masks of the steps
                # after an evaluation those of the library's recipe.
                torch.empty((), dtype=torch.int64).random_()
                score, numbers = evaluate()
                row.update(numbers)
            report = Progress(step, score, row, int(state.num_input_tokens_seen),
                              self.train_seconds, row.get(SE_KEY))
            if follower.see(report) is not None:
                control.should_training_stop = True
            self.tick = time.perf_counter()

    trainer = Quiet(model=model, args=args, train_dataset=list(examples),
                    data_collator=functools.partial(collate, pad_id=pad_id,
                                                    device=torch.device("cpu")),
                    callbacks=[Reports()])
    trainer.remove_callback(PrinterCallback)  # it prints the run's metrics at the end
    return trainer


def _trainable(model: Any) -> list[tuple[str, Any]]:
    """The model's trainable parameters by name, in the model's order."""
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]
