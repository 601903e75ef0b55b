"""Latency of coach matching at scale: 1,000 arguments × 20 paraphrases per language.

Synthetic arguments are made by recombining the words of the shipped paraphrases (so the
vocabulary, word lengths and n-gram statistics are realistic), each with its own rare words
so that arguments stay distinguishable. Prints the index build time and per-query latency
(p50 / p99) of the whole query path: cleaning, normalisation, lemmatisation, both sparse
products and the per-argument maximum.

Run: ``.venv/bin/python bench/coach.py [--arguments 1000] [--paraphrases 20] [--queries 500]``
The target is under 10 ms per query on a laptop-class CPU.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pollwatch.coach import load_knowledge_base
from pollwatch.coach.index import DocFeatures, IndexEntry, MatchIndex
from pollwatch.coach.text import analyse, clean_text


def synthetic_entries(n_args: int, n_para: int, seed: int) -> tuple[list[IndexEntry], list[str]]:
    """Recombine real paraphrase words into ``n_args`` arguments; also return query texts."""
    rng = np.random.default_rng(seed)
    kb = load_knowledge_base()
    pools: dict[str, list[list[str]]] = {"ru": [], "en": []}
    for a in kb.active:
        for lang in ("ru", "en"):
            words = [w for t in getattr(a.paraphrases, lang) for w in t.split()]
            pools[lang].append(words)
    entries = []
    queries = []
    for k in range(n_args):
        texts = []
        for lang in ("ru", "en"):
            pool = pools[lang][k % len(pools[lang])]
            other = pools[lang][int(rng.integers(len(pools[lang])))]
            marker = f"{'тема' if lang == 'ru' else 'topic'}{k}"
            for _ in range(n_para):
                n = int(rng.integers(5, 13))
                words = list(rng.choice(pool, size=n - 2)) + list(rng.choice(other, size=1))
                words.insert(int(rng.integers(len(words) + 1)), marker)
                texts.append(" ".join(words))
        entries.append(IndexEntry(f"arg-{k}", tuple(texts)))
        queries.append(texts[int(rng.integers(len(texts)))])
    real = [t for a in kb.active for lang in ("ru", "en") for t in getattr(a.paraphrases, lang)]
    queries.extend(real)
    rng.shuffle(queries)
    return entries, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arguments", type=int, default=1000)
    parser.add_argument("--paraphrases", type=int, default=20, help="per language")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    entries, queries = synthetic_entries(args.arguments, args.paraphrases, args.seed)
    t0 = time.perf_counter()
    index = MatchIndex.build(entries)
    build = time.perf_counter() - t0
    n_docs = index.n_docs
    print(f"arguments: {len(entries)}  documents: {n_docs}  build: {build:.2f} s")

    queries = queries[: args.queries]
    for q in queries[:20]:  # warm the lemma caches as a long-running server would
        index.rank(DocFeatures.of(analyse(clean_text(q))), 3)
    cold_words = [f"неслово{i} nonword{i}" for i in range(50)]
    times = []
    for q in queries:
        t = time.perf_counter()
        index.rank(DocFeatures.of(analyse(clean_text(q))), 3)
        times.append(time.perf_counter() - t)
    cold = []
    for w in cold_words:  # words never seen before: lemmatiser and transliteration run
        t = time.perf_counter()
        index.rank(DocFeatures.of(analyse(clean_text(w))), 3)
        cold.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    cms = np.array(cold) * 1e3
    print(
        f"query latency over {len(ms)} queries: p50 {np.percentile(ms, 50):.2f} ms, "
        f"p99 {np.percentile(ms, 99):.2f} ms, max {ms.max():.2f} ms"
    )
    print(f"unseen words: p50 {np.percentile(cms, 50):.2f} ms, p99 {np.percentile(cms, 99):.2f} ms")
    print("target: < 10 ms per query:", "met" if np.percentile(ms, 99) < 10 else "NOT met")


if __name__ == "__main__":
    main()
