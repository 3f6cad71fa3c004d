"""Backend specs: one model per kind (an option of another kind is a config error), and the vLLM engine
arguments each device gets. The GPU branch is tested for the arguments it produces, not run."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import ValidationError

from semisynth.backends import (
    CPU_ENGINE_DEFAULTS,
    HTTPSpec,
    TransformersBackend,
    TransformersSpec,
    VLLMSpec,
    backend_spec,
    describe_engine,
    detect_device,
    resolve_engine_args,
    spec_device,
)
from semisynth.backends import device as devices
from semisynth.backends.device import cpu_has_bf16
from semisynth.config import load_config
from semisynth.errors import UserError
from semisynth.generation.run import GenerateConfig, run_id_for

# What the CPU engine is started with (../shared/recipes.md, with a 2 GiB KV cache): moves only on purpose.
TODAY_ON_CPU = {"seed": 0, "dtype": "bfloat16" if cpu_has_bf16() else "float32", "max_model_len": 512, "kv_cache_memory_bytes": 2 << 30,
                "enforce_eager": True, "enable_chunked_prefill": False}


def refused(yaml_backend: str, tmp_path, **overrides) -> str:
    cfg = tmp_path / "g.yaml"
    cfg.write_text(f"input: {{path: seeds.jsonl}}\nout: {tmp_path / 'run'}\nbackend: {yaml_backend}\n", encoding="utf-8")
    with pytest.raises(UserError) as e:
        load_config(GenerateConfig, cfg, overrides)
    msg = str(e.value)
    assert "\n" not in msg and "fix:" in msg
    return msg


def test_cpu_dtype_is_bf16_only_where_the_cpu_computes_it(tmp_path):
    for flags, want in (("avx2 avx512f", False), ("avx512f avx512_bf16", True), ("amx_bf16 amx_tile", True)):
        info = tmp_path / "cpuinfo"
        info.write_text(f"processor\t: 0\nflags\t\t: fpu {flags}\n", encoding="utf-8")
        assert cpu_has_bf16(str(info)) is want
    assert cpu_has_bf16(str(tmp_path / "missing")) is False


# -- one model per kind -----------------------------------------------------------------------------
def test_kind_defaults_to_vllm_and_each_kind_builds_its_own_model():
    assert type(backend_spec(model="m")) is VLLMSpec
    assert type(backend_spec(kind="http", model="m", base_url="http://h:1")) is HTTPSpec
    assert type(backend_spec(kind="transformers", model="m")) is TransformersSpec


@pytest.mark.parametrize(("backend", "field", "kind", "keys"), [
    ("{kind: vllm, model: m, base_url: 'http://h:1'}", "backend.base_url", "vllm", "kv_cache_memory_bytes"),
    ("{model: m, batch_size: 4}", "backend.batch_size", "vllm", "gpu_memory_utilization"),
    ("{kind: http, model: m, base_url: 'http://h:1', dtype: float16}", "backend.dtype", "http", "max_concurrency"),
    ("{kind: http, model: m, base_url: 'http://h:1', seed: 3}", "backend.seed", "http", "backoff_s"),
    ("{kind: transformers, model: m, kv_cache_memory_bytes: 1000000}", "backend.kv_cache_memory_bytes",
     "transformers", "batch_size"),
])
def test_an_option_of_another_kind_is_refused_naming_the_field_and_that_kinds_keys(tmp_path, backend, field, kind, keys):
    msg = refused(backend, tmp_path)
    assert f"field '{field}'" in msg and f"for kind {kind}:" in msg and keys in msg


def test_the_fix_names_the_kind_an_option_belongs_to(tmp_path):
    assert "set kind: http" in refused("{model: m, base_url: 'http://h:1'}", tmp_path)
    assert "set kind: vllm or transformers" in refused("{kind: http, model: m, base_url: 'http://h:1', seed: 1}",
                                                       tmp_path)


def test_http_without_base_url_and_an_unknown_kind_are_refused(tmp_path):
    assert "field 'backend.base_url'" in refused("{kind: http, model: m}", tmp_path)
    assert "vllm, http, transformers" in refused("{kind: gpt, model: m}", tmp_path)


def test_flags_override_the_yaml_and_are_checked_against_the_kind_they_choose(tmp_path):
    cfg = tmp_path / "g.yaml"
    cfg.write_text(f"input: {{path: s.jsonl}}\nout: {tmp_path / 'r'}\nbackend: {{model: a}}\n", encoding="utf-8")
    got = load_config(GenerateConfig, cfg, {"backend.kind": "http", "backend.model": "b",
                                             "backend.base_url": "http://h:1"}).backend
    assert isinstance(got, HTTPSpec) and got.model == "b" and got.base_url == "http://h:1"
    msg = refused("{model: a, dtype: float32}", tmp_path, **{"backend.kind": "transformers"})
    assert "field 'backend.dtype'" in msg and "for kind transformers" in msg


def test_cpu_only_option_conflicts_are_refused():
    with pytest.raises(ValidationError, match="gpu_memory_utilization applies to device cuda"):
        backend_spec(model="m", device="cpu", gpu_memory_utilization=0.5)
    with pytest.raises(ValidationError, match="dtype given both"):
        backend_spec(model="m", dtype="float32", engine_kwargs={"dtype": "bfloat16"})
    with pytest.raises(ValidationError, match="seed given both"):
        backend_spec(model="m", engine_kwargs={"seed": 1})


@pytest.mark.parametrize("spec", [backend_spec(model="m", dtype="bfloat16", engine_kwargs={"swap_space": 1}),
                                  backend_spec(kind="http", model="m", base_url="http://h:1", max_retries=0),
                                  backend_spec(kind="transformers", model="m", batch_size=3)])
def test_specs_travel_pickled_and_as_json(spec):
    """The Ray runner pickles specs; run ids hash their JSON dump."""
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert backend_spec(**json.loads(json.dumps(spec.model_dump(mode="json")))) == spec


# -- engine arguments per device --------------------------------------------------------------------
def test_cpu_gets_exactly_what_works_today():
    assert resolve_engine_args(backend_spec(model="m"), "cpu") == TODAY_ON_CPU


def test_gpu_gets_vllm_serving_defaults_and_no_cpu_tuning():
    args = resolve_engine_args(backend_spec(model="m"), "cuda")
    assert args == {"seed": 0, "dtype": "auto", "gpu_memory_utilization": 0.9, "enforce_eager": False,
                    "enable_prefix_caching": True}
    # max_model_len absent: the model's own; no 64 MiB KV cache, no forced chunked-prefill setting
    for key in CPU_ENGINE_DEFAULTS:
        assert args.get(key) != CPU_ENGINE_DEFAULTS[key]


def test_explicit_values_win_on_both_devices_and_engine_kwargs_come_last():
    spec = backend_spec(model="m", seed=7, max_model_len=1024, dtype="bfloat16", enforce_eager=True,
                        enable_prefix_caching=False, engine_kwargs={"swap_space": 2})
    for device in ("cpu", "cuda"):
        args = resolve_engine_args(spec, device)
        assert args["seed"] == 7 and args["max_model_len"] == 1024 and args["dtype"] == "bfloat16"
        assert args["enforce_eager"] is True and args["enable_prefix_caching"] is False and args["swap_space"] == 2
    assert resolve_engine_args(backend_spec(model="m", kv_cache_memory_bytes=2 << 30), "cuda")[
        "kv_cache_memory_bytes"] == 2 << 30


def test_a_portable_config_keeps_gpu_memory_share_off_the_cpu():
    spec = backend_spec(model="m", gpu_memory_utilization=0.5)  # device: auto
    assert "gpu_memory_utilization" not in resolve_engine_args(spec, "cpu")
    assert resolve_engine_args(spec, "cuda")["gpu_memory_utilization"] == 0.5


def test_device_detection(monkeypatch):
    assert detect_device("cpu") == "cpu"
    monkeypatch.setattr(devices, "vllm_build", lambda: "cpu")
    monkeypatch.setattr(devices, "cuda_visible", lambda: True)
    assert detect_device("auto") == "cpu"  # the CPU build never gets a GPU's settings
    with pytest.raises(UserError, match="CPU build"):
        detect_device("cuda")
    monkeypatch.setattr(devices, "vllm_build", lambda: "cuda")
    assert detect_device("auto") == "cuda" and detect_device("cuda") == "cuda"
    monkeypatch.setattr(devices, "cuda_visible", lambda: False)
    assert detect_device("auto") == "cpu"
    with pytest.raises(UserError, match="no CUDA GPU"):
        detect_device("cuda")


def test_the_manifest_records_the_device_and_the_resolved_arguments(monkeypatch):
    monkeypatch.setattr(devices, "vllm_build", lambda: "cpu")
    assert describe_engine(backend_spec(model="m")) == {"kind": "vllm", "device": "cpu", "vllm_build": "cpu",
                                                        "engine_args": TODAY_ON_CPU}
    monkeypatch.setattr(devices, "vllm_build", lambda: "cuda")
    monkeypatch.setattr(devices, "cuda_visible", lambda: True)
    assert describe_engine(backend_spec(model="m"))["engine_args"]["dtype"] == "auto"
    assert describe_engine(backend_spec(kind="transformers", model="m")) == {
        "kind": "transformers", "seed": 0, "batch_size": 16, "device": "cpu"}
    assert describe_engine(backend_spec(kind="transformers", model="m", device="auto"))["device"] == "cuda"


# -- the transformers backend's device: the same choices and the same one-line error --------------
def test_transformers_device_takes_vllms_choices_and_refuses_a_free_string(tmp_path):
    assert TransformersSpec(model="m").device == "cpu"
    assert TransformersSpec.model_fields["device"].annotation == VLLMSpec.model_fields["device"].annotation
    msg = refused("{kind: transformers, model: m, device: 'cuda:1'}", tmp_path)
    assert "field 'backend.device'" in msg and "auto" in msg and "cuda" in msg


def test_transformers_auto_follows_torch_not_the_vllm_build_and_an_impossible_cuda_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(devices, "vllm_build", lambda: "cpu")
    monkeypatch.setattr(devices, "cuda_visible", lambda: True)
    assert spec_device(TransformersSpec(model="m", device="auto")) == "cuda"  # torch sees the GPU
    assert spec_device(VLLMSpec(model="m", device="auto")) == "cpu"  # the CPU build of vLLM does not
    monkeypatch.setattr(devices, "cuda_visible", lambda: False)
    assert spec_device(TransformersSpec(model="m", device="auto")) == "cpu"
    with pytest.raises(UserError) as e:  # before the model loads: the folder is never read
        TransformersBackend(tiny_folder(tmp_path), device="cuda")
    assert "\n" not in str(e.value) and "no CUDA GPU" in str(e.value) and "device: auto" in str(e.value)
    assert spec_device(HTTPSpec(model="m", base_url="http://h:1")) is None


def tiny_folder(tmp_path) -> str:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}", encoding="utf-8")  # resolve_model_dir's test; never loaded
    return str(tmp_path / "m")


# -- the run id carries the device the engine resolves to ------------------------------------------
def _generate_config(tmp_path, device: str, kind: str = "vllm") -> GenerateConfig:
    cfg = tmp_path / f"g-{kind}-{device}.yaml"
    cfg.write_text(f"input: {{path: s.jsonl}}\nout: {tmp_path / 'r'}\n"
                   f"backend: {{kind: {kind}, model: m, device: {device}}}\n", encoding="utf-8")
    return load_config(GenerateConfig, cfg, {})


@pytest.mark.parametrize("kind", ["vllm", "transformers"])
def test_the_same_config_on_cpu_and_on_cuda_gets_different_run_ids(monkeypatch, tmp_path, kind):
    on_cpu = run_id_for(_generate_config(tmp_path, "cpu", kind))
    assert run_id_for(_generate_config(tmp_path, "auto", kind)) == on_cpu  # this machine: auto is cpu
    monkeypatch.setattr(devices, "vllm_build", lambda: "cuda")
    monkeypatch.setattr(devices, "cuda_visible", lambda: True)
    on_gpu = run_id_for(_generate_config(tmp_path, "auto", kind))
    assert on_gpu != on_cpu and run_id_for(_generate_config(tmp_path, "cuda", kind)) == on_gpu
