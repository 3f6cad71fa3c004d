"""Can the strongest packaged model judge meaning? (issue 20): a yes/no LLM judge scored on blind-read pairs.

The packaged Qwen2.5-Coder-1.5B-Instruct is asked whether a record keeps everything its seed says (request, facts,
speaker, sentence type) and is not a trivial copy; the score is log P(yes) - log P(no) at the answer's first token.
Against the readers' labels (audits/*/pairs.tsv, never seen by the judge's prompt author while writing it) it prints
the AUC of OK vs the rest and the OK share kept above each threshold (95 % Wilson). Scores are appended to --scores
(resumable), so the figures can be recomputed without the model: `--evaluate-only`.

  .venv/bin/python scripts/judge_probe.py --model <model folder> --scores audits/judge-probe/scores.jsonl \
      audits/2026-12-05-air-heldout-qwen1.5b audits/2026-12-05-air-heldout-smollm2
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from audit import wilson  # noqa: E402
from tradeoff import read_audit  # noqa: E402

PROMPT = ("Message A is a real customer message. Message B was written to say the same thing in other words.\n\n"
          "Message A: {seed}\n\nMessage B: {record}\n\n"
          "Does B keep everything A says: the same request or complaint, the same facts (numbers, times, places, "
          "flight or booking codes, names), the same speaker (the customer, writing to the airline), and the same "
          "sentence type (a question stays a question)? Is B a fluent message a customer could have written, and not "
          "just A copied with a trivial change? Answer with one word: yes or no.")


def score(model_dir: str, rows: list[dict], scores: Path, batch: int = 4) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16).eval()
    yes = [tok.encode(w, add_special_tokens=False)[0] for w in ("yes", "Yes", " yes", " Yes")]
    no = [tok.encode(w, add_special_tokens=False)[0] for w in ("no", "No", " no", " No")]
    done = {(d["audit"], d["seed"], d["record"]) for d in _read(scores)}
    todo = [r for r in rows if (r["audit"], r["seed"], r["record"]) not in done]
    with scores.open("a", encoding="utf-8") as out:
        for i in range(0, len(todo), batch):
            part = todo[i:i + batch]
            texts = [tok.apply_chat_template([{"role": "user", "content": PROMPT.format(**r)}], tokenize=False,
                                             add_generation_prompt=True) for r in part]
            with torch.no_grad():
                logits = model(**tok(texts, return_tensors="pt", padding=True)).logits[:, -1, :].float()
            for r, lp in zip(part, torch.log_softmax(logits, -1), strict=True):
                d = {k: r[k] for k in ("audit", "model", "generator", "attempt", "label", "seed", "record")}
                d["judge"] = torch.logsumexp(lp[yes], 0).item() - torch.logsumexp(lp[no], 0).item()
                out.write(json.dumps(d) + "\n")
                out.flush()


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def evaluate(scores: Path) -> None:
    from sklearn.metrics import roc_auc_score

    by: dict[str, list[dict]] = defaultdict(list)
    for d in _read(scores):
        by[d["audit"]].append(d)
    for audit, rs in sorted(by.items()):
        y = [d["label"] == "OK" for d in rs]
        auc = roc_auc_score(y, [d["judge"] for d in rs]) if 0 < sum(y) < len(y) else float("nan")
        print(f"{audit}: {len(rs)} read, {sum(y)} OK; AUC (OK vs the rest) {auc:.3f}; "
              f"labels the judge says yes to: {dict(Counter(d['label'] for d in rs if d['judge'] > 0))}")
        for t in (0, 1, 2, 3):
            kept = [d for d in rs if d["judge"] > t]
            ok = sum(d["label"] == "OK" for d in kept)
            if kept:
                lo, hi = wilson(ok, len(kept))
                print(f"  judge > {t}: keeps {len(kept)}/{len(rs)}, OK {ok}/{len(kept)} = {ok / len(kept):.1%} "
                      f"({lo:.1%}-{hi:.1%})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="*", type=Path)
    ap.add_argument("--model", help="a model folder (semisynth model path qwen2.5-coder-1.5b-instruct)")
    ap.add_argument("--scores", type=Path, default=ROOT / "audits" / "judge-probe" / "scores.jsonl")
    ap.add_argument("--evaluate-only", action="store_true")
    args = ap.parse_args()
    if not args.evaluate_only:
        score(args.model, [r for f in args.folders for r in read_audit(f)], args.scores)
    evaluate(args.scores)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
