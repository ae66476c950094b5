"""Packing several small runs on one GPU (``runs_per_gpu = k``) safely.

The arithmetic is a pure function, :func:`check_packing`: k runs fit on a device when k
times a run's peak memory (what PyTorch's caching allocator reserved, plus the CUDA
context every process pays) stays under the device's memory less a safety margin.
Every job measures its own peak with :class:`GpuMeter` and reports it with its results
(``gpu_peak_mb`` and ``gpu_device_mb``, result columns like any other number the job
reports); both executors run the first job of each GPU arm alone and check its peak before
they pack more runs beside it.
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


#: The result columns that carry a run's GPU peak and its device's memory (MiB).
PEAK_KEY, DEVICE_KEY = "gpu_peak_mb", "gpu_device_mb"


def peak_numbers(peak: GpuPeak | None) -> dict[str, float]:
    """A measured peak as numbers a job reports (none when the run used no GPU)."""
    return {} if peak is None else {PEAK_KEY: peak.peak_mb, DEVICE_KEY: peak.device_mb}


def peak_of(numbers: dict[str, float]) -> GpuPeak | None:
    """The GPU peak a job reported among its numbers, or None when it used no GPU."""
    if PEAK_KEY not in numbers or DEVICE_KEY not in numbers:
        return None
    return GpuPeak(peak_mb=float(numbers[PEAK_KEY]), device_mb=float(numbers[DEVICE_KEY]))


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
