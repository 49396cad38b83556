# pragma version ~=0.4.3
"""
@title Multinomial naive Bayes, in the log domain
@notice Input: feature indices (tokens), any order, repeats count. The
        predicted class maximises
          score_c = ln(prior_c) + sum_{tokens t} ln((count[c][t] + a) / (total_c + a * F))
        with prior_c = docs_c / sum(docs), a the smoothing factor and F the
        number of features; ties go to the lower class index, classes with no
        documents are never predicted (class 0 if none has any). Update: the
        label's document count +1, its count of every token occurrence +1,
        its total +len(x).
@dev    Exact integer arithmetic (mirrored by ledgerlearn.models.naive_bayes):
          term(c, t) = count[c][t] * 1e9 + a           (a fixed point, 1e9)
          P_c = docs_c * product of term(c, t) over the tokens (in input
                order), kept as a binary float m_c * 2**e_c: start
                m = docs_c, e = 0; after each factor, if m >= 2**128:
                m >>= 64, e += 64 (truncating).
          S_c = _ln(m_c, e_c) - len(x) * _ln(total_c * 1e9 + a * F, 0)
        (`fixed_math._ln`, 1e18 scale; the common -ln(sum docs) is dropped);
        argmax S_c with strict >. The 1e9 factors cancel between numerator
        and denominator, so S_c is the float score up to ~1e-18 per logarithm:
        no underflow however long the input.
        Storage:
          _params: smoothing a (bits 0..63) | F (64..127) | classes C (128..191)
          _counts[p // 8]: eight uint32 lanes, lane p % 8 at bits 32 * (p % 8),
                   position p = t * C + c (the classes of a token are adjacent,
                   so one word serves several classes of a token)
          _stats[c // 2]: per class 128 bits at 128 * (c % 2):
                   documents (bits 0..63) | total tokens (64..127)
        Counts are bounded by 2**32 - 1 ("model: count overflow").
"""

import setup
from lib import fixed_math

uses: setup

MAX_TOKENS: constant(uint256) = 512
MAX_CLASSES: constant(uint256) = 64
MAX_WORDS_PER_CALL: constant(uint256) = 512
MAX_CLASS_NAME: constant(uint256) = 64
MAX_FEATURES: constant(uint256) = 2**32
SCALE: constant(uint256) = 10**9
LANES: constant(uint256) = 8
COUNT_MAX: constant(uint256) = 2**32 - 1
MASK64: constant(uint256) = 2**64 - 1
MAX_SMOOTHING: constant(uint256) = 2**60

_params: uint256
_counts: HashMap[uint256, uint256]
_stats: HashMap[uint256, uint256]
_class_names: HashMap[uint256, String[MAX_CLASS_NAME]]


@internal
def _init(classes: DynArray[String[MAX_CLASS_NAME], MAX_CLASSES], num_features: uint256, smoothing: uint256, class_counts: DynArray[uint256, MAX_CLASSES], totals: DynArray[uint256, MAX_CLASSES]):
    """
    @dev Class names (1 .. 64), F (1 .. 2**32), smoothing a (fixed point,
         1 .. 2**60), and per class the number of documents and the total of
         its token counts (the sum of the class's feature counts, loaded
         afterwards with `load_counts`).
    """
    nc: uint256 = len(classes)
    assert nc > 0, "model: no classes"
    assert num_features > 0 and num_features <= MAX_FEATURES, "model: bad feature count"
    assert smoothing > 0 and smoothing <= MAX_SMOOTHING, "model: smoothing out of range"
    assert len(class_counts) == nc and len(totals) == nc, "model: one count and one total per class"
    for c: uint256 in range(nc, bound=MAX_CLASSES):
        self._class_names[c] = classes[c]
        assert class_counts[c] <= MASK64 and totals[c] <= MASK64, "model: class count out of range"
        sh: uint256 = (c & 1) << 7
        self._stats[c >> 1] = self._stats[c >> 1] | ((class_counts[c] | (totals[c] << 64)) << sh)
    self._params = smoothing | (num_features << 64) | (nc << 128)


@external
def load_counts(start: uint256, words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed count words start .. start + len(words) - 1 (setup phase).
    @dev    Word k holds the uint32 counts of positions 8k .. 8k+7, position
            p = feature * num_classes + class (see the module notes).
    """
    setup._check_setup()
    k: uint256 = start
    for w: uint256 in words:
        self._counts[k] = w
        k += 1


@external
def load_counts_at(keys: DynArray[uint256, MAX_WORDS_PER_CALL], words: DynArray[uint256, MAX_WORDS_PER_CALL]):
    """
    @notice Store packed count words at arbitrary word indices (setup phase).
    """
    setup._check_setup()
    assert len(keys) == len(words), "model: keys and words differ in length"
    i: uint256 = 0
    for k: uint256 in keys:
        self._counts[k] = words[i]
        i += 1


@external
@view
def counts_word(key: uint256) -> uint256:
    """
    @notice Packed count word `key` (positions 8 * key .. 8 * key + 7).
    """
    return self._counts[key]


@external
@view
def class_stats(c: uint256) -> (uint256, uint256):
    """
    @notice Documents and total token count of class `c`.
    """
    s: uint256 = (self._stats[c >> 1] >> ((c & 1) << 7)) & (2**128 - 1)
    return s & MASK64, s >> 64


@external
@view
def smoothing() -> uint256:
    """
    @notice The smoothing factor, fixed point (1e9).
    """
    return self._params & MASK64


@external
@view
def num_features() -> uint256:
    """
    @notice Number of features: tokens must be below it.
    """
    return (self._params >> 64) & MASK64


@internal
@view
def _num_features() -> uint256:
    return (self._params >> 64) & MASK64


@internal
@view
def _num_classes() -> uint256:
    return self._params >> 128


@internal
@view
def _class_name(i: uint256) -> String[MAX_CLASS_NAME]:
    assert i < self._params >> 128, "model: class index out of range"
    return self._class_names[i]


@internal
@view
def _predict(x: DynArray[uint256, MAX_TOKENS]) -> uint256:
    """
    @dev argmax of the log-domain scores (see the module notes). One pass
         over the tokens per class (the class's counts of a token share
         storage words with the other classes', so later passes read warm
         slots); every pass checks the tokens.
    """
    params: uint256 = self._params
    a: uint256 = params & MASK64
    nf: uint256 = (params >> 64) & MASK64
    nc: uint256 = params >> 128
    n: int256 = convert(len(x), int256)
    den_extra: uint256 = a * nf
    best: int256 = min_value(int256)
    best_c: uint256 = 0
    found: bool = False
    stats: uint256 = 0
    for c: uint256 in range(nc, bound=MAX_CLASSES):
        if c & 1 == 0:
            stats = self._stats[c >> 1]
        s: uint256 = (stats >> ((c & 1) << 7)) & (2**128 - 1)
        docs: uint256 = s & MASK64
        if docs == 0:
            continue
        # the prior is folded into the product: m starts at docs (< 2**64)
        m: uint256 = docs
        e: uint256 = 0
        key: uint256 = max_value(uint256)
        word: uint256 = 0
        for t: uint256 in x:
            assert t < nf, "model: feature index out of range"
            p: uint256 = unsafe_add(unsafe_mul(t, nc), c)
            k: uint256 = p >> 3
            if k != key:
                key = k
                word = self._counts[k]
            # factor < 2**32 * 1e9 + 2**60 < 2**63 and m < 2**128: no overflow
            m = unsafe_mul(m, unsafe_add(unsafe_mul((word >> ((p & 7) << 5)) & COUNT_MAX, SCALE), a))
            if m >= 2**128:
                m = m >> 64
                e = unsafe_add(e, 64)
        score: int256 = fixed_math._ln(m, e) - n * fixed_math._ln((s >> 64) * SCALE + den_extra, 0)
        if not found or score > best:
            best = score
            best_c = c
            found = True
    if not found:
        # no class has documents: still refuse a malformed input
        for t: uint256 in x:
            assert t < nf, "model: feature index out of range"
    return best_c


@internal
def _update(x: DynArray[uint256, MAX_TOKENS], label: uint256):
    """
    @dev counts[label][t] += 1 for every token occurrence, documents[label]
         += 1, total[label] += len(x). Sorted tokens are cheapest (each
         storage word is then read and written once).
    """
    params: uint256 = self._params
    nf: uint256 = (params >> 64) & MASK64
    nc: uint256 = params >> 128
    assert label < nc, "model: unknown class label"
    key: uint256 = max_value(uint256)
    word: uint256 = 0
    for t: uint256 in x:
        assert t < nf, "model: feature index out of range"
        p: uint256 = unsafe_add(unsafe_mul(t, nc), label)
        k: uint256 = p >> 3
        if k != key:
            if key != max_value(uint256):
                self._counts[key] = word
            key = k
            word = self._counts[k]
        sh: uint256 = (p & 7) << 5
        assert (word >> sh) & COUNT_MAX != COUNT_MAX, "model: count overflow"
        word = unsafe_add(word, 1 << sh)
    if key != max_value(uint256):
        self._counts[key] = word
    sh: uint256 = (label & 1) << 7
    stats: uint256 = self._stats[label >> 1]
    s: uint256 = (stats >> sh) & (2**128 - 1)
    docs: uint256 = (s & MASK64) + 1
    total: uint256 = (s >> 64) + len(x)
    assert docs <= MASK64 and total <= MASK64, "model: count overflow"
    self._stats[label >> 1] = (stats & ~((2**128 - 1) << sh)) | ((docs | (total << 64)) << sh)
