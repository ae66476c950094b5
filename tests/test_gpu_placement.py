"""GPU placement and precision choices, checked on a CPU-only machine.

Worker ``i`` gets GPU ``gpus[i // runs_per_gpu]`` through CUDA_VISIBLE_DEVICES; the hf
backend refuses GPU-only settings on a machine without CUDA instead of silently running on
the CPU.
"""

from __future__ import annotations

import pytest

from nercurve.errors import BackendError
from nercurve.study.executors.local import LocalExecutor, detect_gpus


@pytest.mark.parametrize("workers, gpus, per_gpu, expected", [
    (2, ["0", "1"], 1, ["0", "1"]),
    (4, ["0", "1"], 2, ["0", "0", "1", "1"]),
    (3, ["2"], 1, ["2", "", ""]),  # workers beyond the GPUs see none
    (2, ["GPU-7d3f", "GPU-91aa"], 1, ["GPU-7d3f", "GPU-91aa"]),
])
def test_each_worker_sees_its_gpu(workers, gpus, per_gpu, expected):
    executor = LocalExecutor(workers=workers, gpus=gpus, runs_per_gpu=per_gpu)
    envs = [executor._env_for(i) for i in range(workers)]
    assert [env["CUDA_VISIBLE_DEVICES"] for env in envs] == expected


def test_cpu_workers_share_the_cores_and_touch_no_gpu_setting():
    env = LocalExecutor(workers=1)._env_for(0)
    assert "CUDA_VISIBLE_DEVICES" not in env and int(env["OMP_NUM_THREADS"]) >= 1


@pytest.mark.parametrize("visible, expected", [
    ("2,3", ["2", "3"]),
    ("GPU-7d3f, 1", ["GPU-7d3f", "1"]),
    ("", []),
    ("-1", []),
])
def test_detect_gpus_reads_cuda_visible_devices(monkeypatch, visible, expected):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert detect_gpus() == expected


def test_hf_device_and_precision_on_a_cpu():
    import torch

    from nercurve.backends.hf.train import autocast_dtype, resolve_device

    if torch.cuda.is_available():
        pytest.skip("this check is for machines without CUDA")
    cpu = resolve_device("auto")
    assert cpu.type == "cpu"
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(BackendError, match="torch sees no CUDA GPU"):
            resolve_device(spec)
    assert autocast_dtype(cpu, "auto") is None and autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") is torch.bfloat16
    with pytest.raises(BackendError, match=r"fp16.*needs a CUDA GPU"):
        autocast_dtype(cpu, "fp16")
