"""Packing several small runs on one GPU (``runs_per_gpu = k``) safely.

The arithmetic is a pure function, :func:`check_packing`: k runs fit on a device when k
times a run's peak memory (what PyTorch's caching allocator reserved, plus the CUDA
context every process pays) stays under the device's memory less a safety margin.
The executor measures a run's peak with :class:`GpuMeter` on the first run of an arm
before it packs more runs beside it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from nercurve.errors import ConfigError

#: What one process's CUDA context takes on the device beyond PyTorch's allocations (MiB).
CUDA_CONTEXT_MB = 500.0

#: Share of the device's memory that packed runs may use together.
USABLE_SHARE = 0.92


@dataclass(frozen=True)
class GpuPeak:
    """A run's peak GPU memory and the memory of the device it ran on (MiB)."""

    peak_mb: float
    device_mb: float


def runs_that_fit(run_peak_mb: float, device_mb: float,
                  context_mb: float = CUDA_CONTEXT_MB) -> int:
    """How many runs of ``run_peak_mb`` (each in a process of its own) fit on one device."""
    per_run = run_peak_mb + context_mb
    return max(0, int(device_mb * USABLE_SHARE // per_run))


def check_packing(arm: str, k: int, peak: GpuPeak, context_mb: float = CUDA_CONTEXT_MB) -> None:
    """Raise a :class:`~nercurve.errors.ConfigError` when ``k`` runs of ``arm`` measured at
    ``peak`` cannot share one device; return quietly when they can."""
    if k <= 1:
        return
    fit = runs_that_fit(peak.peak_mb, peak.device_mb, context_mb)
    if fit >= k:
        return
    need = k * (peak.peak_mb + context_mb)
    raise ConfigError(
        f"runs_per_gpu = {k} does not fit: one run of '{arm}' peaked at "
        f"{peak.peak_mb / 1024:.1f} GiB of GPU memory (+ {context_mb / 1024:.1f} GiB CUDA "
        f"context), so {k} runs need about {need / 1024:.1f} GiB, and the GPU has "
        f"{peak.device_mb / 1024:.1f} GiB ({USABLE_SHARE:.0%} usable)",
        hint=f"set run.runs_per_gpu to {max(fit, 1)} or less (or lower the batch size / "
        "max_length); the finished runs are kept",
    )


class GpuMeter:
    """Measures the peak GPU memory of the code run between :meth:`start` and :meth:`stop`
    in this process, through PyTorch when a run used CUDA; nothing otherwise."""

    def start(self) -> None:
        """Reset the peak statistics of the current device (when CUDA is in use)."""
        torch = _torch_with_cuda()
        if torch is not None:
            torch.cuda.reset_peak_memory_stats()

    def stop(self) -> GpuPeak | None:
        """The peak since :meth:`start`, or None when no run in this process used CUDA."""
        torch = _torch_with_cuda()
        if torch is None:
            return None
        device = torch.cuda.current_device()
        total = torch.cuda.get_device_properties(device).total_memory
        return GpuPeak(peak_mb=torch.cuda.max_memory_reserved(device) / 2**20,
                       device_mb=total / 2**20)


def _torch_with_cuda() -> Any:
    """PyTorch when a run in this process imported it and initialised CUDA, else None
    (never imports torch itself)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch
