"""The matching index: lemma BM25 plus character n-gram TF-IDF, as sparse matrices.

Every text of an argument (claim, each paraphrase, each keyword; both languages) is one
*document*. A query is scored against every document twice:

* **BM25 over lemmas** (Robertson & Zaragoza, 2009), normalised by the sum of the idf of the
  query's lemmas so that it lies in [0, 1] — "how much of what was said does this
  paraphrase cover";
* **cosine of character n-grams** (3–5, inside word boundaries, sublinear tf, smoothed idf,
  as scikit-learn's ``TfidfVectorizer(analyzer="char_wb")``), which survives typos, slang
  spellings and inflections the lemmatiser does not know.

The two are mixed per document (``alpha`` · BM25 + (1 − ``alpha``) · cosine) and an
argument's score is the best of its documents. Document frequencies are counted over
*arguments*, not documents: a lemma found in every paraphrase of one argument is exactly
what identifies it and must not be discounted for being frequent.

Each matrix is stored transposed (features × documents, CSR), so scoring a query is one
sparse vector–matrix product touching only the postings of the query's features.

References
----------
Robertson, S., & Zaragoza, H. (2009). The probabilistic relevance framework: BM25 and beyond.
Foundations and Trends in Information Retrieval, 3(4), 333–389.
Manning, C. D., Raghavan, P., & Schütze, H. (2008). Introduction to Information Retrieval,
ch. 6 (tf-idf, cosine) and ch. 3.2 (k-gram indexes for spelling correction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from pollwatch.coach.text import Analysis, analyse
from pollwatch.errors import InputError

__all__ = ["DocFeatures", "IndexEntry", "MatchIndex", "MatchParams", "Scores"]


@dataclass(frozen=True)
class IndexEntry:
    """One argument as the index sees it: its id and all its texts."""

    argument_id: str
    texts: tuple[str, ...]
    near_misses: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchParams:
    """Parameters of the index (defaults chosen by leave-one-out on the shipped KB)."""

    k1: float = 1.2
    b: float = 0.75
    alpha: float = 0.5
    gram_idf_offset: float = 1.0
    centroid: float = 0.5


@dataclass(frozen=True)
class DocFeatures:
    """The lemmas and n-grams of one text."""

    lemmas: tuple[str, ...]
    ngrams: tuple[str, ...]

    @classmethod
    def of(cls, analysis: Analysis) -> DocFeatures:
        """Features of an analysed text."""
        return cls(analysis.lemmas, analysis.ngrams)


@dataclass(frozen=True)
class Scores:
    """Per-argument scores of one query, in the order of ``MatchIndex.argument_ids``."""

    combined: np.ndarray
    bm25: np.ndarray
    ngram: np.ndarray


def _vocab(items: Sequence[Sequence[str]]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for seq in items:
        for x in seq:
            if x not in vocab:
                vocab[x] = len(vocab)
    return vocab


def _counts(items: Sequence[Sequence[str]], vocab: Mapping[str, int]) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for seq in items:
        c = Counter(vocab[x] for x in seq if x in vocab)
        indices.extend(c.keys())
        data.extend(c.values())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(items), len(vocab)),
    )


class MatchIndex:
    """A built index over a set of arguments; immutable once built.

    Build with :meth:`build` (from texts) or :meth:`from_features` (from analysed texts).
    Documents flagged ``negative`` (an argument's near-misses) never raise its score: when a
    query resembles a near-miss more than any paraphrase, the argument is pushed down by the
    difference, so curators fix a false match by adding a near-miss.
    """

    def __init__(
        self,
        argument_ids: tuple[str, ...],
        doc_arg: np.ndarray,
        negative: np.ndarray,
        term_vocab: Mapping[str, int],
        gram_vocab: Mapping[str, int],
        term_counts: sp.csr_matrix,
        gram_counts: sp.csr_matrix,
        params: MatchParams,
    ) -> None:
        self.argument_ids = argument_ids
        self.params = params
        self._term_vocab = term_vocab
        self._gram_vocab = gram_vocab
        self._raw = (doc_arg, negative, term_counts, gram_counts)
        n_args = len(argument_ids)
        # order: positives by argument, then negatives by argument
        order = np.lexsort((doc_arg, negative))
        doc_arg = doc_arg[order]
        negative = negative[order]
        self._n_pos = int((~negative).sum())
        pos_arg = doc_arg[: self._n_pos]
        if len(np.unique(pos_arg)) != n_args:
            raise InputError("every argument needs at least one text to be indexed")
        self._pos_starts = np.flatnonzero(np.r_[True, np.diff(pos_arg) != 0])
        neg_arg = doc_arg[self._n_pos :]
        self._neg_args = neg_arg[np.r_[True, np.diff(neg_arg) != 0]] if len(neg_arg) else neg_arg
        self._neg_starts = (
            np.flatnonzero(np.r_[True, np.diff(neg_arg) != 0]) if len(neg_arg) else neg_arg
        )
        tc = term_counts[order].tocsr()
        gc = gram_counts[order].tocsr()
        # document frequency over arguments (positive texts only): argument × feature presence
        owner = sp.csr_matrix(
            (np.ones(self._n_pos), (pos_arg, np.arange(self._n_pos))),
            shape=(n_args, len(doc_arg)),
        )
        df_t = np.asarray(((owner @ (tc > 0)) > 0).sum(axis=0)).ravel()
        df_g = np.asarray(((owner @ (gc > 0)) > 0).sum(axis=0)).ravel()
        self._oov_idf = float(np.log1p((n_args + 0.5) / 0.5))
        self._idf = np.where(df_t > 0, np.log1p((n_args - df_t + 0.5) / (df_t + 0.5)), 0.0)
        self._idf_norm = np.where(df_t > 0, self._idf, self._oov_idf)
        off = params.gram_idf_offset
        self._oov_gidf = float(np.log(1.0 + n_args) + off)
        self._gidf = np.where(df_g > 0, np.log((1.0 + n_args) / (1.0 + df_g)) + off, 0.0)
        self._gidf_norm = np.where(df_g > 0, self._gidf, self._oov_gidf)
        self._bm25_t = self._bm25(tc)
        self._gram_t = self._tfidf(gc)
        if params.centroid > 0:
            arg_owner = sp.csr_matrix(owner)
            self._c_bm25_t = self._bm25(sp.csr_matrix(arg_owner @ tc))
            self._c_gram_t = self._tfidf(sp.csr_matrix(arg_owner @ gc))

    def _bm25(self, tc: sp.csr_matrix) -> sp.csr_matrix:
        dl = np.asarray(tc.sum(axis=1)).ravel()
        avgdl = float(dl.mean()) if len(dl) and dl.mean() > 0 else 1.0
        k1, b = self.params.k1, self.params.b
        w = tc.tocoo(copy=True)
        denom = w.data + k1 * (1.0 - b + b * dl[w.row] / avgdl)
        w.data = self._idf[w.col] * w.data * (k1 + 1.0) / denom
        return sp.csr_matrix(w.T)

    def _tfidf(self, gc: sp.csr_matrix) -> sp.csr_matrix:
        g = gc.tocoo(copy=True)
        g.data = (1.0 + np.log(g.data)) * self._gidf[g.col]
        g = g.tocsr()
        norms = np.sqrt(np.asarray(g.multiply(g).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix((sp.diags(1.0 / norms) @ g).T)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def from_features(
        cls,
        argument_ids: Sequence[str],
        doc_arg: Sequence[int],
        docs: Sequence[DocFeatures],
        params: MatchParams | None = None,
        negative: Sequence[bool] | None = None,
    ) -> MatchIndex:
        """Build from analysed documents; ``doc_arg[i]`` is the position of doc i's argument
        and ``negative[i]`` marks a near-miss."""
        term_vocab = _vocab([d.lemmas for d in docs])
        gram_vocab = _vocab([d.ngrams for d in docs])
        neg = np.zeros(len(docs), dtype=bool) if negative is None else np.asarray(negative, bool)
        return cls(
            tuple(argument_ids),
            np.asarray(doc_arg, dtype=np.int64),
            neg,
            term_vocab,
            gram_vocab,
            _counts([d.lemmas for d in docs], term_vocab),
            _counts([d.ngrams for d in docs], gram_vocab),
            params or MatchParams(),
        )

    @classmethod
    def build(cls, entries: Sequence[IndexEntry], params: MatchParams | None = None) -> MatchIndex:
        """Analyse every text of every entry and build the index."""
        if not entries:
            raise InputError("cannot build a matching index without arguments")
        ids = [e.argument_id for e in entries]
        if len(set(ids)) != len(ids):
            raise InputError("argument ids in the index must be unique")
        doc_arg: list[int] = []
        docs: list[DocFeatures] = []
        negative: list[bool] = []
        for i, e in enumerate(entries):
            for texts, neg in ((e.texts, False), (e.near_misses, True)):
                for text in texts:
                    docs.append(DocFeatures.of(analyse(text)))
                    doc_arg.append(i)
                    negative.append(neg)
        return cls.from_features(ids, doc_arg, docs, params, negative)

    def without(self, documents: Sequence[int]) -> MatchIndex:
        """The same index with some documents (positions in build order) left out.

        Vocabulary is kept, document frequencies are recomputed: a feature only the
        removed documents had is then unknown, exactly as if they had never been indexed.
        Used for leave-one-out evaluation without re-analysing every text.
        """
        doc_arg, negative, tc, gc = self._raw
        keep = np.ones(len(doc_arg), dtype=bool)
        keep[list(documents)] = False
        return MatchIndex(
            self.argument_ids,
            doc_arg[keep],
            negative[keep],
            self._term_vocab,
            self._gram_vocab,
            tc[keep],
            gc[keep],
            self.params,
        )

    @property
    def n_docs(self) -> int:
        """Number of indexed documents (near-misses included)."""
        return int(self._raw[0].shape[0])

    # -- scoring ------------------------------------------------------------------------
    def _query_vectors(
        self, query: DocFeatures
    ) -> tuple[sp.csr_matrix | None, float, sp.csr_matrix | None, float]:
        terms = set(query.lemmas)
        t_ids = [self._term_vocab[t] for t in terms if t in self._term_vocab]
        n_oov = len(terms) - len(t_ids)
        norm_t = float(self._idf_norm[t_ids].sum()) + n_oov * self._oov_idf
        qt = None
        if t_ids and norm_t > 0:
            qt = sp.csr_matrix(
                (np.ones(len(t_ids)), (np.zeros(len(t_ids), dtype=np.int64), t_ids)),
                shape=(1, len(self._term_vocab)),
            )
        g_ids: list[int] = []
        g_vals: list[float] = []
        norm_sq = 0.0
        for gram, count in Counter(query.ngrams).items():
            tf = 1.0 + float(np.log(count))
            gid = self._gram_vocab.get(gram)
            if gid is None:
                norm_sq += (tf * self._oov_gidf) ** 2
                continue
            norm_sq += (tf * float(self._gidf_norm[gid])) ** 2
            g_ids.append(gid)
            g_vals.append(tf * float(self._gidf[gid]))
        qg = None
        if g_ids and norm_sq > 0:
            qg = sp.csr_matrix(
                (np.asarray(g_vals), (np.zeros(len(g_ids), dtype=np.int64), g_ids)),
                shape=(1, len(self._gram_vocab)),
            )
        return qt, norm_t, qg, float(np.sqrt(norm_sq))

    @staticmethod
    def _apply(q: sp.csr_matrix | None, m: sp.csr_matrix, norm: float) -> np.ndarray:
        if q is None:
            return np.zeros(m.shape[1])
        return np.asarray((q @ m).todense()).ravel() / norm

    def scores(self, query: DocFeatures) -> Scores:
        """Score a query against every argument (best document of each)."""
        qt, norm_t, qg, norm_g = self._query_vectors(query)
        bm = np.minimum(self._apply(qt, self._bm25_t, norm_t), 1.0)
        cos = self._apply(qg, self._gram_t, norm_g)
        alpha = self.params.alpha
        doc = alpha * bm + (1.0 - alpha) * cos
        pos = doc[: self._n_pos]
        combined = np.maximum.reduceat(pos, self._pos_starts)
        best_text = combined
        if self.params.centroid > 0:
            c_bm = np.minimum(self._apply(qt, self._c_bm25_t, norm_t), 1.0)
            c_cos = self._apply(qg, self._c_gram_t, norm_g)
            cen = alpha * c_bm + (1.0 - alpha) * c_cos
            combined = (1.0 - self.params.centroid) * combined + self.params.centroid * cen
        if len(self._neg_starts):
            neg = np.maximum.reduceat(doc[self._n_pos :], self._neg_starts)
            penalty = np.zeros_like(combined)
            # closer to a near-miss than to any of the argument's own texts: lose the difference
            penalty[self._neg_args] = np.maximum(neg - best_text[self._neg_args], 0.0)
            combined = combined - penalty
        return Scores(
            combined=combined,
            bm25=np.maximum.reduceat(bm[: self._n_pos], self._pos_starts),
            ngram=np.maximum.reduceat(cos[: self._n_pos], self._pos_starts),
        )

    def rank(self, query: DocFeatures, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` best arguments as ``(id, score)``, best first; ties by id."""
        s = self.scores(query).combined
        k = min(k, len(s))
        top = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
        ordered = sorted(top, key=lambda i: (-s[i], self.argument_ids[i]))
        return [(self.argument_ids[i], float(s[i])) for i in ordered]
