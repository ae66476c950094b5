"""GPU packing arithmetic and slot shapes (pure functions: no GPU, no cluster needed).

The measurement itself (PyTorch's peak on a CUDA device) only runs on a GPU; here the
rules that decide from it are checked, and the config keys that feed them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from study_fixtures import write_study

from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.executors.ray import RayExecutor, Shape, slots_per_shape
from nercurve.study.gpu_packing import GpuMeter, GpuPeak, check_packing, runs_that_fit
from nercurve.study.jobs import validate_arms
from nercurve.study.runner import choose_executor

GIB = 1024.0


def test_runs_that_fit_count_each_process_s_cuda_context() -> None:
    # 80 GiB device, 92% usable = 73.6 GiB; MiniLM-sized runs of 3.5 GiB + 0.5 GiB context
    assert runs_that_fit(3.5 * GIB, 80 * GIB) == 18
    assert runs_that_fit(3.5 * GIB, 80 * GIB, context_mb=0) == 21
    assert runs_that_fit(20 * GIB, 16 * GIB) == 0


def test_k_runs_that_fit_pass_and_k_that_do_not_name_the_largest_k() -> None:
    peak = GpuPeak(peak_mb=7.5 * GIB, device_mb=40 * GIB)  # about 8 GiB a run with its context
    check_packing("bert", 4, peak)  # 32 GiB of 36.8 usable
    with pytest.raises(ConfigError) as err:
        check_packing("bert", 8, peak)
    text = str(err.value)
    assert "runs_per_gpu = 8 does not fit" in text and "'bert'" in text
    assert "63.9 GiB" in text and "40.0 GiB" in text
    assert "set run.runs_per_gpu to 4 or less" in text


def test_one_run_per_gpu_is_never_refused() -> None:
    check_packing("huge", 1, GpuPeak(peak_mb=100 * GIB, device_mb=16 * GIB))


def test_the_meter_measures_nothing_where_no_run_used_cuda() -> None:
    meter = GpuMeter()
    meter.start()
    assert meter.stop() is None


def test_slot_shapes_fit_per_node_and_count_only_alive_nodes() -> None:
    nodes = [
        {"Alive": True, "Resources": {"CPU": 16.0, "GPU": 2.0, "memory": 64 * 2**30}},
        {"Alive": True, "Resources": {"CPU": 3.0, "memory": 8 * 2**30}},
        {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}},
    ]
    assert slots_per_shape(Shape(cpus=1), nodes) == 19
    assert slots_per_shape(Shape(cpus=2), nodes) == 9
    assert slots_per_shape(Shape(cpus=1, gpus=1 / 4), nodes) == 8  # 2 GPUs x 4
    assert slots_per_shape(Shape(cpus=4, gpus=1 / 4), nodes) == 4  # CPUs bind first
    assert slots_per_shape(Shape(cpus=1, memory_mb=6000), nodes) == 10 + 1
    assert Shape(cpus=1, gpus=0.25, memory_mb=512).options() == {
        "num_cpus": 1, "num_gpus": 0.25, "memory": 512 * 2**20,
        "max_restarts": 0, "max_task_retries": 0,
    }


def test_the_config_chooses_the_executor_in_one_place(tmp_path: Path) -> None:
    extra = ('executor = "ray"\nray_address = "auto"\nruns_per_gpu = 4\ncpus_per_job = 2\n'
             "memory_mb_per_job = 3000\nmax_retries = 5\n")
    config = load_config(write_study(tmp_path, extra=extra))
    executor = choose_executor(config, validate_arms(config.backends), workers=None,
                               runs_per_gpu=config.run.runs_per_gpu)
    assert executor == RayExecutor(address="auto", workers=2, timeout_s=600, cpus_per_job=2,
                                   memory_mb_per_job=3000, gpu_arms=frozenset(),
                                   runs_per_gpu=4, max_retries=5)
    local = load_config(write_study(tmp_path / "local"))
    assert type(choose_executor(local, validate_arms(local.backends), workers=None,
                                runs_per_gpu=1)).__name__ == "LocalExecutor"


def test_an_unknown_executor_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run\.executor"):
        load_config(write_study(tmp_path, extra='executor = "spark"\n'))
