"""tiny_lm and hf_lm: a transformer fine-tuned each generation (tiny Llama built locally, or `base_model`),
sampled through the generation backends; the training plan follows the device."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open
from semisynth.collapse.experiments.families.protocol import fit_id, synthetic_record
from semisynth.collapse.experiments.real_text import real_text_source
from semisynth.errors import UserError
from semisynth.hashing import seed_from
from semisynth.records import Record


class CausalLMModel:
    """A trained transformer saved in a folder; sampled through the generation backends (vLLM first)."""

    def __init__(self, model_id: str, path: Path, max_new_tokens: int, temperature: float, backend: str):
        self.model_id, self.path = model_id, path
        self.max_new_tokens, self.temperature, self.backend = max_new_tokens, temperature, backend

    def _backend(self) -> Any:
        """The same spec and device logic as `generate`: on a GPU, vLLM gets the GPU's engine settings."""
        from semisynth.backends import backend_spec, open_backend

        return open_backend(backend_spec(kind=self.backend, model=str(self.path), seed=0))

    def sample(self, n: int, seed: int) -> list[Record]:
        from transformers import AutoTokenizer

        from semisynth.backends import GenerationRequest, SamplingParams

        bos = AutoTokenizer.from_pretrained(str(self.path)).bos_token or ""
        reqs = [GenerationRequest(params=SamplingParams(max_tokens=self.max_new_tokens, temperature=self.temperature,
                                                        top_p=1.0, seed=seed_from(seed, i)), prompt=bos)
                for i in range(n)]
        backend = self._backend()
        try:
            outs = backend.generate(reqs)
        finally:
            backend.close()
        params = {"max_tokens": self.max_new_tokens, "temperature": self.temperature, "top_p": 1.0,
                  "backend": self.backend}
        return [synthetic_record(" ".join(o.text.split()) or ".", self.model_id, "causal_lm", i, seed, params)
                for i, o in enumerate(outs)]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(self.path))
        model = AutoModelForCausalLM.from_pretrained(str(self.path), dtype=torch.float32).eval()
        nll, ntok = 0.0, 0
        texts = [r.content for r in heldout]
        with torch.no_grad():
            for i in range(0, len(texts), 32):
                batch = _encode(tok, texts[i: i + 32], 64)
                out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
                logits = out.logits[:, :-1].float()
                target = batch["input_ids"][:, 1:]
                mask = batch["attention_mask"][:, 1:].bool()
                lp = torch.log_softmax(logits, -1).gather(-1, target.unsqueeze(-1)).squeeze(-1)
                nll -= float(lp[mask].sum())
                ntok += int(mask.sum())
        return {"heldout_ppl": math.exp(nll / max(ntok, 1))}


def _encode(tok: Any, texts: Sequence[str], max_len: int) -> dict[str, Any]:
    """BOS + text + EOS, right-padded: the model learns where a text starts and stops."""
    import torch

    rows = [[tok.bos_token_id] + tok(t, add_special_tokens=False)["input_ids"][: max_len - 2] + [tok.eos_token_id]
            for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return {"input_ids": ids, "attention_mask": mask}


class CausalLMFamily:
    """Every generation fine-tunes the same starting model (tiny Llama, or `base_model`) on its data, as in
    Shumailov et al. 2024. Trained with a plain torch loop (CPU or GPU) and saved under the generation's
    folder, where the backend loads it. Already-trained folders (with a marker) are reused on resume."""

    is_text = True

    def __init__(self, base_model: str | None = None, real_data: str | Path | None = None, heldout_size: int = 200,
                 epochs: int = 2, lr: float = 1e-3, batch_size: int = 16, max_len: int = 64,
                 max_new_tokens: int = 40, temperature: float = 1.0, backend: str = "vllm",
                 tiny_hidden: int = 128, tiny_layers: int = 2, tiny_vocab: int = 1000,
                 workspace: str | Path | None = None, grad_accum_steps: int | None = None):
        self.workspace = Path(workspace) if workspace else None
        self.name = "hf_lm" if base_model else "tiny_lm"
        self.base_model = base_model
        self.source = real_text_source(str(real_data) if real_data else None, heldout_size)
        self.epochs, self.lr, self.batch_size, self.max_len = epochs, lr, batch_size, max_len
        self.max_new_tokens, self.temperature, self.backend = max_new_tokens, temperature, backend
        self.tiny = {"hidden": tiny_hidden, "layers": tiny_layers, "vocab_size": tiny_vocab}
        self.grad_accum_steps = grad_accum_steps  # None: 1 on CPU, 4 on GPU (train_plan)
        self._base_dir: Path | None = None
        self._base_files: dict[str, bytes] | None = None  # the driver's base, shipped to a Ray worker

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        return self.source.pool, self.source.heldout

    def prepare(self, workdir: Path | None = None) -> None:
        """Build the tiny base once, here (the driver), before any worker starts: workers only ever read it."""
        if not self.base_model:
            self._base(workdir or self.workspace or Path("."))

    def _base(self, workdir: Path) -> str:
        if self.base_model:
            return self.base_model
        if self._base_files is not None:  # shipped by the driver: this node's copy, written once, never swapped
            self._base_dir = materialize_folder(self._base_files)
        if self._base_dir is None or not self._base_dir.exists():
            # One base per experiment, its tokenizer trained on the real pool (a fixed vocabulary). An existing
            # folder is kept as it is: build_tiny_model is deterministic, and rebuilding would swap the folder
            # under a reader (two workers sharing --out: one deleted the base the other was loading).
            self._base_dir = build_base_once((self.workspace or workdir) / "base_model",
                                             [r.content for r in self.source.pool[:5000]], self.tiny)
        return str(self._base_dir)

    def portable(self) -> CausalLMFamily:
        """A copy that needs nothing of this machine's disk: the tiny base travels as bytes (built here first,
        ~4 MB) and is written once per node by `materialize_folder`. An hf_lm base stays a name or a path
        (a large model is not shipped; the workers check they can read it at start)."""
        import copy

        self.prepare()
        twin = copy.copy(self)
        if not self.base_model:
            assert self._base_dir is not None
            twin._base_files = {str(f.relative_to(self._base_dir)): f.read_bytes()
                                for f in sorted(self._base_dir.rglob("*")) if f.is_file()}
            twin._base_dir = None
        twin.workspace = None
        return twin

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> CausalLMModel:
        if workdir is None:
            raise UserError("fit", "the causal LM family needs a working folder", "pass workdir")
        mid = fit_id(self.name, records, seed, [self.base_model, self.epochs, self.lr, self.tiny])
        out = workdir / "model"
        marker = out / "TRAINED"
        if not (marker.exists() and marker.read_text().strip() == mid):
            self._train(self._base(workdir), [r.content for r in records], seed, out)
            with atomic_open(marker) as f:
                f.write(mid)
        return CausalLMModel(mid, out, self.max_new_tokens, self.temperature, self.backend)

    def _train(self, base: str, texts: list[str], seed: int, out: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        plan = train_plan("cuda" if torch.cuda.is_available() else "cpu", self.batch_size, self.grad_accum_steps)
        device = plan["device"]
        torch.manual_seed(seed)
        tok = AutoTokenizer.from_pretrained(base)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        if tok.bos_token_id is None:
            tok.bos_token = tok.eos_token
        # float32 master weights everywhere; on a GPU the forward pass runs in bf16 (autocast, no loss scaler).
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr)
        order = np.random.default_rng(seed)
        micro = plan["micro_batch_size"]
        for _ in range(self.epochs):
            perm = order.permutation(len(texts))
            for i in range(0, len(perm), self.batch_size):
                batch = [texts[j] for j in perm[i: i + self.batch_size]]
                parts = [_encode(tok, batch[k: k + micro], self.max_len) for k in range(0, len(batch), micro)]
                backward_batch(model, parts, device, plan["bf16"])
                opt.step()
                opt.zero_grad()
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(out)
        tok.save_pretrained(out)


def build_base_once(target: Path, corpus: list[str], tiny: dict[str, int]) -> Path:
    """The tiny base at `target`, built only when absent: built beside it and renamed into place (rename of a
    folder onto an existing one fails, so two builders never swap a folder under a reader; the loser's copy
    is dropped). An existing folder is never rebuilt."""
    import shutil
    import tempfile

    from semisynth.models import build_tiny_model

    target = Path(target).resolve()
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".build", dir=target.parent))
    try:
        built = build_tiny_model(scratch / "model", seed=0, corpus=corpus, heads=4, **tiny)
        _rename_if_absent(built, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _rename_if_absent(src: Path, target: Path) -> None:
    import os

    try:
        os.rename(src, target)  # atomic; fails when target is a non-empty folder (another builder won)
    except OSError:
        if not (target / "config.json").is_file():
            raise


def materialize_folder(files: dict[str, bytes], root: Path | None = None) -> Path:
    """Write a shipped folder once on this node, under a name that is its content hash; an existing copy is
    reused as it is (same name, same bytes), and a copy is complete before it gets its name."""
    import hashlib
    import os
    import shutil
    import tempfile

    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    root = root or Path(tempfile.gettempdir()) / f"semisynth-{os.getuid()}" / "models"
    target = root / digest.hexdigest()[:24]
    if (target / "config.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    try:
        for name, data in files.items():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            (scratch / name).write_bytes(data)
        scratch.chmod(0o755)
        _rename_if_absent(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def backward_batch(model: Any, parts: Sequence[dict[str, Any]], device: str, bf16: bool) -> None:
    """Gradients of one batch given as micro-batches. Each micro-batch's mean token loss is weighted by its
    share of the batch's tokens, so the accumulated gradient is the whole batch's (one part: the plain step)."""
    import torch

    counts = [int(p["attention_mask"][:, 1:].sum()) for p in parts]  # the positions HF's shifted loss averages
    for part, n in zip(parts, counts, strict=True):
        ids, mask = part["input_ids"].to(device), part["attention_mask"].to(device)
        labels = ids.masked_fill(mask == 0, -100)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        (loss if len(parts) == 1 else loss * (n / max(sum(counts), 1))).backward()


def train_plan(device: str, batch_size: int, grad_accum_steps: int | None = None) -> dict[str, Any]:
    """How a causal LM trains on this device (pure, so the GPU branch is testable on CPU): CPU as it always
    has (float32, one step per batch); GPU in bf16 autocast with the batch split over `grad_accum_steps`
    micro-batches (default 4), so a larger base model fits at the same effective batch size."""
    steps = grad_accum_steps or (4 if device == "cuda" else 1)
    steps = max(1, min(int(steps), batch_size))
    return {"device": device, "bf16": device == "cuda", "grad_accum_steps": steps,
            "micro_batch_size": -(-batch_size // steps)}

