"""Reference figures we measure ourselves against (copied in; never read at run time).

Gas of Microsoft's 0xDeCA10B Solidity contracts (Solidity 0.6.2, optimizer off),
measured on a local EVM with Shanghai rules, Deposit-Refund-Take with all waits 0
and ``cost_weight = 1e9``. "deploy" counts every transaction needed (chunked model
upload, data handler, incentive mechanism, entry contract, ownership transfers);
"add" is a contribution whose label equals the current prediction, "add_update"
one whose label differs; "report" is a take-all after the waits.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The 20-token IMDB sample and the 15-token sample of the reference gas script.
SAMPLE_20 = (1, 2, 3, 14, 15, 26, 37, 48, 59, 110, 111, 112, 213, 314, 515, 616, 717, 818, 919, 920)
SAMPLE_15 = (1, 2, 3, 14, 25, 36, 57, 88, 299, 310, 411, 512, 613, 714, 815)


@dataclass(frozen=True)
class GasReference:
    key: str
    title: str
    kind: str  # ledgerlearn model kind
    size: int  # features (weights per class or dimensions)
    classes: int
    sample: str  # "sample20" | "sample15" | "dense" | "tokens9"
    deploy: int
    add: int
    add_update: int
    refund: int
    report: int


GAS_REFERENCE: tuple[GasReference, ...] = (
    GasReference("imdb_perceptron", "IMDB sparse perceptron, 1000 weights, 20-token sample", "sparse_perceptron", 1000, 2, "sample20", 30_258_745, 273_009, 308_266, 221_111, 181_159),
    GasReference("perceptron_15", "sparse perceptron 1000 weights, 15-token sample", "sparse_perceptron", 1000, 2, "sample15", 30_270_961, 234_918, 291_964, 204_574, 164_412),
    GasReference("nb_1000", "naive Bayes 2 x 1000 features, 20 tokens", "naive_bayes", 1000, 2, "sample20", 56_812_718, 323_663, 326_475, 302_830, 262_874),
    GasReference("sparse_centroid_1000", "sparse nearest centroid 2 x 1000, 20 tokens", "sparse_centroid", 1000, 2, "sample20", 58_137_059, 346_467, 349_279, 305_171, 265_215),
    GasReference("dense_perceptron_400", "dense perceptron 400 dims, 400-d sample", "dense_perceptron", 400, 2, "dense", 12_214_560, 1_464_646, 1_969_493, 1_085_190, 1_045_231),
    GasReference("dense_centroid_512", "dense nearest centroid 2 x 512 dims, 512-d sample", "dense_centroid", 512, 2, "dense", 14_422_296, 1_964_506, 1_967_318, 2_003_049, 1_963_108),
    GasReference("nb_9", "naive Bayes 2 x 9 features", "naive_bayes", 9, 2, "tokens9", 8_371_779, 215_454, 218_266, 199_506, 159_549),
    GasReference("dense_centroid_9", "dense nearest centroid 2 x 9", "dense_centroid", 9, 2, "dense", 7_937_679, 229_103, 231_915, 189_750, 149_793),
    GasReference("dense_perceptron_9", "dense perceptron 9", "dense_perceptron", 9, 2, "dense", 7_339_986, 230_641, 206_214, 177_445, 137_474),
)

#: Goals: each operation at most this fraction of the reference.
GOAL_OPERATION = 0.40
GOAL_DEPLOY = 0.20

#: titanoboa (py-evm) managed about this many simple perceptron updates per second here.
TITANOBOA_UPDATES_PER_S = 200
#: anvil mined this range of simple updates per second in evm_mine batches here.
ANVIL_BATCH_UPDATES_PER_S = (3_400, 4_400)
