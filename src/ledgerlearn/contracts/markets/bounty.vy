# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title Prediction-market bounty
@notice A provider escrows a bounty for data that improves a perceptron on a
        test set it keeps hidden until contributions close. Phases:
          COMMITMENT    provider loads the initial model and commits salted
                        hashes of P >= 2 test pieces; a later block's hash
                        picks the piece it must reveal first
          PARTICIPATION anyone contributes one labelled sample with a deposit
          REVEAL        after `end_market`, the provider reveals every other
                        piece before `reveal_deadline` (else FAILED)
          REWARD        anyone calls `process` in bounded steps: contributions
                        are replayed in order on the initial model, scored by
                        the change in the number of correctly classified test
                        samples, and bounty rounds are settled in bulk
          FINISHED      everyone withdraws; the provider withdraws what is left
          FAILED        the provider missed the reveal deadline: contributors
                        withdraw their deposits plus an equal share of the
                        bounty per contribution
          CANCELLED     the provider withdrew before participation opened
        Zero sum: at every moment this contract's balance equals
        `bounty_left() + sum(balance_of(a))` over all contributors.
@dev    Economics (integer version of the reference's): with N revealed test
        samples (the first revealed piece excluded: it is public), the bounty
        B buys `B // N` rounds; in a round each remaining participant earns
        its score in wei (its change in correct test predictions, possibly
        negative), so one round pays out at most N wei net. Each pass applies
        k rounds at once: k = min over participants with a negative score s of
        balance // -s (all remaining rounds when no score is negative, capped
        at the rounds left). A participant whose score is negative and whose
        balance cannot pay one more round forfeits that remainder to the
        bounty; one whose balance is below min_stake per contribution drops
        out; the next pass replays the others.
        Options (constructor flags): `group_contributions` scores a run of
        consecutive contributions by one address as one (participants are
        addresses), otherwise each contribution is a participant;
        `reset_model` replays the remaining contributions on the initial model
        in every pass (otherwise each contribution's accuracy is measured once,
        in the first pass, as in the reference's paper-like setting);
        `allow_greater_deposit` counts deposits above `min_stake` as stakes
        (otherwise a deposit must equal `min_stake`).
        Sample encoding (uint256 words): a header word `label | n << 8` (label
        0 or 1, n features), then ceil(n / 8) words of eight 32-bit pairs
        `index | value << 16` (index < num_features, value int16), unused
        pairs zero. A test piece is a concatenation of samples; its
        commitment is a hash chain
        h = keccak256(salt ++ L), h = keccak256(h ++ word) per body word,
        so a piece is revealed as [salt, L, body words...] and pieces are
        passed again as call data in the reward phase instead of stored.
        Model: score = intercept + sum(w[i] * value), class 1 iff score > 0;
        on a mistake w[i] += lr * value * y and intercept += lr * y
        (y = +1/-1), each saturating at int56. Weights, intercept and lr are
        fixed point (any scale, chosen by the provider). A storage slot holds
        two weights, each with its initial and current value, and the epoch
        of the current values, so resetting the model is one counter
        increment and one cold read serves two features.
        Gas: `process` stops before an item whose worst-case cost would take
        the call's execution past STEP_GAS; every item is bounded by the
        declared limits (MAX_SAMPLE_FEATURES, MAX_PIECE_FEATURES,
        MAX_CALL_WORDS), so no call needs more than a quarter of a 30M block.
"""

# ------------------------------------------------------------- constants

MAX_FEATURES: constant(uint256) = 4096
MAX_SAMPLE_FEATURES: constant(uint256) = 512
MAX_SAMPLE_WORDS: constant(uint256) = 65  # 1 + 512 / 8
MAX_PIECES: constant(uint256) = 256
MAX_PIECE_FEATURES: constant(uint256) = 2048
MAX_CALL_WORDS: constant(uint256) = 1280
MAX_LOAD: constant(uint256) = 512
MAX_STEPS: constant(uint256) = 4096
DRAW_DELAY: constant(uint256) = 2

# execution gas one `process` call may spend, and worst-case item costs
STEP_GAS: constant(uint256) = 6_000_000
FREE_STEP_GAS: constant(uint256) = 60_000
PIECE_BASE_GAS: constant(uint256) = 60_000
WORD_GAS: constant(uint256) = 600
FEATURE_EVAL_GAS: constant(uint256) = 1_000  # warm: the slot was read before in this call
COLD_SLOT_GAS: constant(uint256) = 2_100  # first read of a weight slot in a call
FEATURE_TRAIN_GAS: constant(uint256) = 6_000
TRAIN_BASE_GAS: constant(uint256) = 80_000

COMMITMENT: constant(uint256) = 0
PARTICIPATION: constant(uint256) = 1
REVEAL: constant(uint256) = 2
REWARD: constant(uint256) = 3
FINISHED: constant(uint256) = 4
FAILED: constant(uint256) = 5
CANCELLED: constant(uint256) = 6

# reward stages
EVAL_INITIAL: constant(uint256) = 1
VISIT: constant(uint256) = 2
SETTLE_FIND: constant(uint256) = 3
SETTLE_NEGATIVE: constant(uint256) = 4
SETTLE_POSITIVE: constant(uint256) = 5

# what an evaluation in progress is for
FOR_INITIAL: constant(uint256) = 0
FOR_CACHE: constant(uint256) = 1
FOR_GROUP: constant(uint256) = 2

# what `process` needs next (see `next_need`)
NEED_NOTHING: constant(uint256) = 0
NEED_SAMPLE: constant(uint256) = 1
NEED_PIECES: constant(uint256) = 2
NEED_STEP: constant(uint256) = 3

M16: constant(uint256) = 2**16 - 1
M32: constant(uint256) = 2**32 - 1
M56: constant(uint256) = 2**56 - 1
M96: constant(uint256) = 2**96 - 1
MARKER: constant(uint256) = 2**255
W_MAX: constant(int256) = 2**55 - 1
W_MIN: constant(int256) = -(2**55)
NO_GROUP: constant(uint256) = max_value(uint256)

# ---------------------------------------------------------------- events

event HashesAdded:
    count: uint256
    draw_block: uint256

event IndexDrawn:
    index: uint256

event PieceRevealed:
    index: indexed(uint256)
    samples: uint256
    features: uint256

event TestData:
    pieces: DynArray[uint256, MAX_CALL_WORDS]

event Contributed:
    index: indexed(uint256)
    contributor: indexed(address)
    deposit: uint256
    sample: DynArray[uint256, MAX_SAMPLE_WORDS]

event MarketEnded:
    contributions: uint256
    reveal_deadline: uint256

event RewardStarted:
    test_samples: uint256
    rounds: uint256

event Evaluated:
    purpose: uint256
    contribution: uint256
    correct: uint256

event PassSettled:
    pass_number: uint256
    rounds_applied: uint256
    rounds_left: uint256

event Dropped:
    participant: indexed(uint256)
    balance: uint256
    forfeited: uint256

event Finished:
    bounty_left: uint256

event Failed:
    share_per_contribution: uint256

event Cancelled:
    bounty: uint256

event Withdrawn:
    account: indexed(address)
    receiver: indexed(address)
    amount: uint256

# ----------------------------------------------------------------- config

provider: public(address)
bounty: public(uint256)
# how clients turn raw input into features (e.g. "IMDB vocab, binary"); informational
encoder: public(String[64])
num_features: public(uint256)
learning_rate: public(int256)
min_stake: public(uint256)
min_length_s: public(uint256)
min_contributions: public(uint256)
reveal_window_s: public(uint256)
any_claim_wait_s: public(uint256)
group_contributions: public(bool)
reset_model: public(bool)
allow_greater_deposit: public(bool)

# ------------------------------------------------------------------ state

phase: public(uint256)
loaded: public(uint256)
_hashes: DynArray[bytes32, MAX_PIECES]
draw_block: public(uint256)
_drawn: uint256  # index + 1, 0 while not drawn
participation_start: public(uint256)
reveal_deadline: public(uint256)
finished_at: public(uint256)
_next_reveal: uint256
_piece_features: HashMap[uint256, uint256]
_piece_words: HashMap[uint256, uint256]
test_samples: public(uint256)
rounds_left: public(uint256)
_bounty_left: uint256
_failed_share: uint256

# model: two weights per slot (see the model section); _b: the intercept, lane 0
_w: uint256[MAX_FEATURES // 2]
_b: uint256
_epoch: uint256

# contributions: contributor | deposit << 160 ; hash of the sample
_contrib: HashMap[uint256, uint256]
_contrib_hash: HashMap[uint256, bytes32]
num_contributions: public(uint256)
_total_deposits: uint256

# participants (grouped: one per address; otherwise one per contribution)
num_participants: public(uint256)
_pid_of: HashMap[address, uint256]  # pid + 1
_p_owner: HashMap[uint256, address]
_p_balance: HashMap[uint256, uint256]
_p_count: HashMap[uint256, uint256]
_p_dropped: HashMap[uint256, bool]
_p_score: HashMap[uint256, int256]
_p_score_pass: HashMap[uint256, uint256]
active_participants: public(uint256)

# per-address money
_balance: HashMap[address, uint256]
_count: HashMap[address, uint256]

# reward-phase cursor
stage: public(uint256)
pass_number: public(uint256)
cursor: public(uint256)
_group: uint256  # pid of the open group, NO_GROUP when none
_group_last: uint256
_prev_correct: uint256
initial_correct: public(uint256)
_correct_after: HashMap[uint256, uint256]
_eval_active: bool
_eval_purpose: uint256
_eval_piece: uint256
_eval_correct: uint256
_settle_cursor: uint256
_k: uint256


@deploy
@payable
def __init__(
    num_features: uint256,
    intercept: int256,
    learning_rate: int256,
    hashes: DynArray[bytes32, MAX_PIECES],
    min_stake: uint256,
    min_length_s: uint256,
    min_contributions: uint256,
    reveal_window_s: uint256,
    any_claim_wait_s: uint256,
    group_contributions: bool,
    reset_model: bool,
    allow_greater_deposit: bool,
    encoder: String[64],
):
    """
    @notice Open a market; the value sent is the bounty. Load the initial
            weights with `load_weights` next; more hashes may follow with
            `add_test_hashes` until the draw block.
    """
    assert msg.value > 0, "market: the bounty must be positive"
    assert msg.value <= M96, "market: bounty too large"
    assert num_features > 0 and num_features <= MAX_FEATURES, "market: num_features out of range"
    assert intercept >= W_MIN and intercept <= W_MAX, "market: intercept out of range"
    assert learning_rate >= 0 and learning_rate <= 2**63, "market: learning rate out of range"
    assert len(hashes) > 0, "market: give at least one test piece hash"
    assert min_stake > 0 and min_stake <= M96, "market: min_stake out of range"
    assert reveal_window_s > 0, "market: reveal_window_s must be positive"
    self.provider = msg.sender
    self.bounty = msg.value
    self._bounty_left = msg.value
    self.num_features = num_features
    self.learning_rate = learning_rate
    self.min_stake = min_stake
    self.min_length_s = min_length_s
    self.min_contributions = min_contributions
    self.reveal_window_s = reveal_window_s
    self.any_claim_wait_s = any_claim_wait_s
    self.group_contributions = group_contributions
    self.reset_model = reset_model
    self.allow_greater_deposit = allow_greater_deposit
    self.encoder = encoder
    self._b = MARKER | self._lane(intercept)
    self._hashes = hashes
    self.draw_block = block.number + DRAW_DELAY
    self._group = NO_GROUP
    log HashesAdded(count=len(hashes), draw_block=block.number + DRAW_DELAY)


# ------------------------------------------------------------ commitment

@external
def load_weights(weights: DynArray[int256, MAX_LOAD]):
    """
    @notice Append initial weights (features `loaded` .. `loaded + len - 1`).
            All `num_features` must be loaded before the first reveal. Like
            `add_test_hashes`, allowed until the draw block is mined, and
            moves it DRAW_DELAY blocks ahead: the draw follows the provider's
            last commitment.
    """
    assert msg.sender == self.provider, "market: only the provider"
    assert self.phase == COMMITMENT, "market: the model is fixed once participation opens"
    assert block.number <= self.draw_block, "market: the reveal index is already determined"
    self.draw_block = block.number + DRAW_DELAY
    start: uint256 = self.loaded
    assert start + len(weights) <= self.num_features, "market: more weights than features"
    i: uint256 = start
    for w: int256 in weights:
        assert w >= W_MIN and w <= W_MAX, "market: weight out of range"
        offset: uint256 = 112 * (i & 1)
        self._w[i >> 1] = (self._w[i >> 1] & ~(M56 << offset)) | MARKER | (self._lane(w) << offset)
        i += 1
    self.loaded = i


@external
def add_test_hashes(hashes: DynArray[bytes32, MAX_PIECES]):
    """
    @notice Commit more test pieces. Allowed until the draw block is mined;
            each call moves the draw block DRAW_DELAY blocks ahead.
    """
    assert msg.sender == self.provider, "market: only the provider"
    assert self.phase == COMMITMENT, "market: not in the commitment phase"
    assert len(hashes) > 0, "market: give at least one hash"
    assert block.number <= self.draw_block, "market: the reveal index is already determined"
    assert len(self._hashes) + len(hashes) <= MAX_PIECES, "market: too many test pieces"
    for h: bytes32 in hashes:
        self._hashes.append(h)
    self.draw_block = block.number + DRAW_DELAY
    log HashesAdded(count=len(self._hashes), draw_block=block.number + DRAW_DELAY)


@internal
def _draw() -> uint256:
    if self._drawn != 0:
        return self._drawn - 1
    assert block.number > self.draw_block, "market: wait for the draw block"
    if block.number - self.draw_block > 256:
        # the block hash is gone: draw again from a future block
        self.draw_block = block.number + DRAW_DELAY
        log HashesAdded(count=len(self._hashes), draw_block=self.draw_block)
        return max_value(uint256)
    seed: bytes32 = keccak256(concat(blockhash(self.draw_block), convert(self, bytes20)))
    index: uint256 = convert(seed, uint256) % len(self._hashes)
    self._drawn = index + 1
    log IndexDrawn(index=index)
    return index


@external
def draw() -> uint256:
    """
    @notice Fix the index of the piece the provider must reveal first, from
            the hash of the draw block (anyone; returns max uint when that
            hash has expired and a new draw block was set).
    """
    assert self.phase == COMMITMENT, "market: not in the commitment phase"
    assert len(self._hashes) >= 2, "market: commit at least 2 test pieces"
    return self._draw()


@external
def reveal(pieces: DynArray[uint256, MAX_CALL_WORDS]) -> uint256:
    """
    @notice Reveal test pieces, each as [salt, L, body (L words)].
            In COMMITMENT: exactly the drawn piece, which opens participation.
            In REVEAL: the next unrevealed pieces in index order (the drawn
            one skipped); the reward phase starts after the last.
    @return The number of pieces accepted.
    """
    assert msg.sender == self.provider, "market: only the provider"
    phase: uint256 = self.phase
    if phase == COMMITMENT:
        assert len(self._hashes) >= 2, "market: commit at least 2 test pieces"
        assert self.loaded == self.num_features, "market: load all initial weights first"
        index: uint256 = self._draw()
        assert index != max_value(uint256), "market: the draw expired; a new draw block was set"
        n: uint256 = 0
        used: uint256 = 0
        n, used = self._reveal_piece(pieces, 0, index)
        assert used == len(pieces), "market: give exactly the drawn piece"
        log TestData(pieces=pieces)
        self.phase = PARTICIPATION
        self.participation_start = block.timestamp
        return 1
    assert phase == REVEAL, "market: not in a reveal phase"
    assert block.timestamp <= self.reveal_deadline, "market: the reveal deadline has passed"
    pos: uint256 = 0
    count: uint256 = 0
    total: uint256 = self.test_samples
    num: uint256 = len(self._hashes)
    drawn: uint256 = self._drawn - 1
    for i: uint256 in range(MAX_PIECES):
        if pos >= len(pieces):
            break
        j: uint256 = self._next_reveal
        n: uint256 = 0
        used: uint256 = 0
        n, used = self._reveal_piece(pieces, pos, j)
        pos += used
        total += n
        count += 1
        j += 1
        if j == drawn:
            j += 1
        self._next_reveal = j
    assert count > 0, "market: give at least one piece"
    log TestData(pieces=pieces)
    self.test_samples = total
    if self._next_reveal >= num:
        self._start_reward()
    return count


@internal
def _reveal_piece(pieces: DynArray[uint256, MAX_CALL_WORDS], pos: uint256, index: uint256) -> (uint256, uint256):
    """
    @dev Check piece `index` at `pos` against its hash and validate it;
         returns (samples, words used).
    """
    assert index < len(self._hashes), "market: no such test piece"
    assert pos + 2 <= len(pieces), "market: truncated piece"
    length: uint256 = pieces[pos + 1]
    assert length > 0 and pos + 2 + length <= len(pieces), "market: truncated piece"
    assert self._piece_hash(pieces, pos) == self._hashes[index], "market: piece does not match its hash"
    samples: uint256 = 0
    features: uint256 = 0
    samples, features = self._validate(pieces, pos + 2, length)
    assert samples > 0, "market: a piece needs at least one sample"
    assert features <= MAX_PIECE_FEATURES, "market: piece has too many features"
    self._piece_features[index] = features
    self._piece_words[index] = length
    log PieceRevealed(index=index, samples=samples, features=features)
    return samples, length + 2


@internal
@pure
def _piece_hash(pieces: DynArray[uint256, MAX_CALL_WORDS], pos: uint256) -> bytes32:
    length: uint256 = pieces[pos + 1]
    h: bytes32 = keccak256(concat(convert(pieces[pos], bytes32), convert(length, bytes32)))
    for k: uint256 in range(pos + 2, pos + 2 + length, bound=MAX_CALL_WORDS):
        h = keccak256(concat(h, convert(pieces[k], bytes32)))
    return h


@external
def cancel():
    """
    @notice Provider: take the bounty back before participation opens.
    """
    assert msg.sender == self.provider, "market: only the provider"
    assert self.phase == COMMITMENT, "market: participation has opened"
    self.phase = CANCELLED
    self.finished_at = block.timestamp
    log Cancelled(bounty=self._bounty_left)


# ---------------------------------------------------------- participation

@external
@payable
def contribute(sample: DynArray[uint256, MAX_SAMPLE_WORDS]) -> uint256:
    """
    @notice Add one labelled sample (see the sample encoding) with a deposit.
    @return The contribution's index.
    """
    assert self.phase == PARTICIPATION, "market: not accepting contributions"
    stake: uint256 = self.min_stake
    if self.allow_greater_deposit:
        assert msg.value >= stake, "market: deposit below min_stake"
        assert msg.value <= M96, "market: deposit too large"
    else:
        assert msg.value == stake, "market: deposit must equal min_stake"
    samples: uint256 = 0
    features: uint256 = 0
    samples, features = self._validate(sample, 0, len(sample))
    assert samples == 1, "market: give exactly one sample"
    c: uint256 = self.num_contributions
    self._contrib[c] = convert(msg.sender, uint256) | (msg.value << 160)
    self._contrib_hash[c] = keccak256(abi_encode(sample))
    self.num_contributions = c + 1
    self._total_deposits += msg.value
    pid: uint256 = c
    if self.group_contributions:
        known: uint256 = self._pid_of[msg.sender]
        if known == 0:
            pid = self.num_participants
            self._pid_of[msg.sender] = pid + 1
            self._p_owner[pid] = msg.sender
            self.num_participants = pid + 1
        else:
            pid = known - 1
    else:
        self._p_owner[pid] = msg.sender
        self.num_participants = c + 1
    self._p_balance[pid] += msg.value
    self._p_count[pid] += 1
    self._balance[msg.sender] += msg.value
    self._count[msg.sender] += 1
    log Contributed(index=c, contributor=msg.sender, deposit=msg.value, sample=sample)
    return c


@external
def end_market():
    """
    @notice Close participation (anyone) once `min_length_s` has passed and
            `min_contributions` were made, or one reveal window after
            `min_length_s` whatever the count. Starts the reveal window.
    """
    assert self.phase == PARTICIPATION, "market: not in the participation phase"
    earliest: uint256 = self.participation_start + self.min_length_s
    assert block.timestamp >= earliest, "market: min_length_s has not passed"
    assert self.num_contributions >= self.min_contributions or block.timestamp >= earliest + self.reveal_window_s, "market: not enough contributions yet"
    if self.num_contributions == 0:
        self._finish()
        return
    self.phase = REVEAL
    self.reveal_deadline = block.timestamp + self.reveal_window_s
    self._next_reveal = 0
    if self._drawn - 1 == 0:
        self._next_reveal = 1
    log MarketEnded(contributions=self.num_contributions, reveal_deadline=self.reveal_deadline)


@external
def declare_failed():
    """
    @notice After the reveal deadline (anyone): contributors may withdraw
            their deposits plus `bounty // contributions` per contribution.
    """
    assert self.phase == REVEAL, "market: not in the reveal phase"
    assert block.timestamp > self.reveal_deadline, "market: the reveal deadline has not passed"
    self._fail()


@internal
def _fail():
    share: uint256 = self.bounty // self.num_contributions
    self._failed_share = share
    self._bounty_left = self.bounty - share * self.num_contributions
    self.phase = FAILED
    self.finished_at = block.timestamp
    log Failed(share_per_contribution=share)


@internal
def _finish():
    self.phase = FINISHED
    self.finished_at = block.timestamp
    log Finished(bounty_left=self._bounty_left)


# ------------------------------------------------------------------ model
# Slot k of _w holds features 2k and 2k+1: initial (bits 0..55) and current
# (56..111) of 2k, initial (112..167) and current (168..223) of 2k+1, the
# epoch of the current values (224..254) and a marker bit (255) that keeps
# the slot non-zero, so training writes never pay for a fresh slot.

@internal
@pure
def _lane(v: int256) -> uint256:
    return convert(convert(v, bytes32), uint256) & M56


@internal
@pure
def _signed56(bits: uint256) -> int256:
    return convert(convert(bits << 200, bytes32), int256) >> 200


@internal
@view
def _weight(i: uint256, epoch: uint256) -> int256:
    s: uint256 = self._w[i >> 1]
    offset: uint256 = 112 * (i & 1)
    if s >> 224 == epoch | (1 << 31):
        offset += 56
    return self._signed56(s >> offset)


@internal
@view
def _intercept(epoch: uint256) -> int256:
    s: uint256 = self._b
    if s >> 224 == epoch | (1 << 31):
        return self._signed56(s >> 56)
    return self._signed56(s)


@internal
@pure
def _add_lane(s: uint256, lane: uint256, epoch: uint256, delta: int256) -> uint256:
    """@dev Slot `s` with the current value of `lane` (0 or 1) moved by `delta` (saturating) at `epoch`."""
    t: uint256 = s
    if t >> 224 != epoch | (1 << 31):
        # first write in this epoch: current values start from the initial ones
        a: uint256 = t & M56
        b: uint256 = (t >> 112) & M56
        t = MARKER | (epoch << 224) | (b << 168) | (b << 112) | (a << 56) | a
    offset: uint256 = 112 * lane + 56
    cur: int256 = max(W_MIN, min(W_MAX, self._signed56(t >> offset) + delta))
    return (t & ~(M56 << offset)) | (self._lane(cur) << offset)


@internal
@pure
def _pair_value(pair: uint256) -> int256:
    v: int256 = convert(pair >> 16, int256)
    if v >= 2**15:
        v -= 2**16
    return v


@internal
def _validate(words: DynArray[uint256, MAX_CALL_WORDS], start: uint256, length: uint256) -> (uint256, uint256):
    """
    @dev Check the samples in words[start : start + length] (reverts with a
         reason on a bad encoding); returns (samples, features).
    """
    nf: uint256 = self.num_features
    samples: uint256 = 0
    features: uint256 = 0
    left: uint256 = 0  # features still to read in the current sample
    for k: uint256 in range(start, start + length, bound=MAX_CALL_WORDS):
        w: uint256 = words[k]
        if left == 0:
            assert w & 255 <= 1, "market: label must be 0 or 1"
            assert w >> 24 == 0, "market: bad sample header"
            left = (w >> 8) & M16
            assert left <= MAX_SAMPLE_FEATURES, "market: sample has too many features"
            samples += 1
            features += left
            continue
        take: uint256 = min(left, 8)
        if take < 8:
            assert w >> (32 * take) == 0, "market: bad padding in sample"
        for j: uint256 in range(8):
            if j == take:
                break
            assert (w >> (32 * j)) & M16 < nf, "market: feature index out of range"
        left -= take
    assert left == 0, "market: truncated sample"
    return samples, features


@internal
@view
def _count_correct(words: DynArray[uint256, MAX_CALL_WORDS], start: uint256, length: uint256) -> uint256:
    """
    @dev Samples in words[start : start + length] (validated at reveal) that
         the current model classifies correctly. Inlined and unchecked where
         the bounds make overflow impossible (|w| < 2**55, |value| <= 2**15,
         at most 2**16 features per sample).
    """
    epoch: uint256 = self._epoch
    epoch_tag: uint256 = epoch | (1 << 31)
    correct: uint256 = 0
    left: uint256 = 0
    label: uint256 = 0
    score: int256 = 0
    for k: uint256 in range(start, start + length, bound=MAX_CALL_WORDS):
        w: uint256 = words[k]
        if left == 0:
            label = w & 255
            left = (w >> 8) & M16
            score = self._intercept(epoch)
        else:
            take: uint256 = min(left, 8)
            for j: uint256 in range(8):
                if j == take:
                    break
                pair: uint256 = w >> unsafe_mul(32, j)
                i: uint256 = pair & M16
                s: uint256 = self._w[i >> 1]
                offset: uint256 = unsafe_mul(112, i & 1)
                if s >> 224 == epoch_tag:
                    offset = unsafe_add(offset, 56)
                weight: int256 = convert(convert((s >> offset) << 200, bytes32), int256) >> 200
                value: int256 = convert(convert((pair >> 16) << 240, bytes32), int256) >> 240
                score = unsafe_add(score, unsafe_mul(weight, value))
            left = unsafe_sub(left, take)
        if left == 0:
            if (score > 0) == (label == 1):
                correct = unsafe_add(correct, 1)
    return correct


@internal
def _train(sample: DynArray[uint256, MAX_SAMPLE_WORDS]):
    """@dev One perceptron step on a stored (already validated) sample."""
    epoch: uint256 = self._epoch
    header: uint256 = sample[0]
    label: uint256 = header & 255
    n: uint256 = (header >> 8) & M16
    score: int256 = self._intercept(epoch)
    for k: uint256 in range(1, MAX_SAMPLE_WORDS):
        if k >= len(sample):
            break
        w: uint256 = sample[k]
        for j: uint256 in range(8):
            if (k - 1) * 8 + j >= n:
                break
            pair: uint256 = (w >> (32 * j)) & M32
            score += self._weight(pair & M16, epoch) * self._pair_value(pair)
    if (score > 0) == (label == 1):
        return
    step: int256 = self.learning_rate
    if label == 0:
        step = -step
    self._b = self._add_lane(self._b, 0, epoch, step)
    for k: uint256 in range(1, MAX_SAMPLE_WORDS):
        if k >= len(sample):
            break
        w: uint256 = sample[k]
        for j: uint256 in range(8):
            if (k - 1) * 8 + j >= n:
                break
            pair: uint256 = (w >> (32 * j)) & M32
            i: uint256 = pair & M16
            self._w[i >> 1] = self._add_lane(self._w[i >> 1], i & 1, epoch, step * self._pair_value(pair))


# ----------------------------------------------------------------- reward

@internal
def _start_reward():
    n: uint256 = self.test_samples
    self.rounds_left = self.bounty // n
    self.phase = REWARD
    self.pass_number = 1
    self._epoch = 1
    self.active_participants = self.num_participants
    self.stage = EVAL_INITIAL
    self._begin_eval(FOR_INITIAL)
    log RewardStarted(test_samples=n, rounds=self.bounty // n)


@internal
@view
def _first_piece() -> uint256:
    if self._drawn - 1 == 0:
        return 1
    return 0


@internal
def _begin_eval(purpose: uint256):
    self._eval_active = True
    self._eval_purpose = purpose
    self._eval_piece = self._first_piece()
    self._eval_correct = 0


@internal
@view
def _pid(c: uint256) -> uint256:
    if self.group_contributions:
        return self._pid_of[convert(self._contrib[c] & (2**160 - 1), address)] - 1
    return c


@internal
@view
def _score(pid: uint256) -> int256:
    if self._p_score_pass[pid] == self.pass_number:
        return self._p_score[pid]
    return 0


@internal
def _close_group(correct: uint256):
    pid: uint256 = self._group
    delta: int256 = convert(correct, int256) - convert(self._prev_correct, int256)
    self._p_score[pid] = self._score(pid) + delta
    self._p_score_pass[pid] = self.pass_number
    self._prev_correct = correct
    self._group = NO_GROUP


@internal
def _eval_done(correct: uint256):
    self._eval_active = False
    purpose: uint256 = self._eval_purpose
    log Evaluated(purpose=purpose, contribution=self._group_last, correct=correct)
    if purpose == FOR_INITIAL:
        self.initial_correct = correct
        self._prev_correct = correct
        self.stage = VISIT
    elif purpose == FOR_CACHE:
        self._correct_after[self._group_last] = correct
    else:
        self._close_group(correct)


@internal
def _request_close():
    """@dev Close the open group: evaluate now (reset) or use the cached count."""
    if self.reset_model:
        self._begin_eval(FOR_GROUP)
    else:
        self._close_group(self._correct_after[self._group_last])


@internal
def _new_pass():
    self.pass_number += 1
    if self.reset_model:
        self._epoch += 1
    self.cursor = 0
    self._prev_correct = self.initial_correct
    self.stage = VISIT


@internal
def _settle_step():
    """@dev One participant of the current settlement sweep (or the sweep's end)."""
    stage: uint256 = self.stage
    pid: uint256 = self._settle_cursor
    if pid >= self.num_participants:
        self._settle_cursor = 0
        if stage == SETTLE_FIND:
            self.rounds_left -= self._k
            self.stage = SETTLE_NEGATIVE
        elif stage == SETTLE_NEGATIVE:
            self.stage = SETTLE_POSITIVE
        else:
            log PassSettled(pass_number=self.pass_number, rounds_applied=self._k, rounds_left=self.rounds_left)
            if self.rounds_left == 0 or self.active_participants == 0:
                self._finish()
            else:
                self._new_pass()
        return
    self._settle_cursor = pid + 1
    if self._p_dropped[pid]:
        return
    s: int256 = self._score(pid)
    bal: uint256 = self._p_balance[pid]
    if stage == SETTLE_FIND:
        if s < 0:
            self._k = min(self._k, bal // convert(-s, uint256))
        return
    if (stage == SETTLE_NEGATIVE) != (s < 0):
        return
    owner: address = self._p_owner[pid]
    change: uint256 = 0
    if s < 0:
        change = convert(-s, uint256) * self._k
        bal -= change
        self._balance[owner] -= change
        self._bounty_left += change
    else:
        change = convert(s, uint256) * self._k
        bal += change
        self._balance[owner] += change
        self._bounty_left -= change
    forfeited: uint256 = 0
    if s < 0 and bal < convert(-s, uint256):
        # cannot pay one more round: the remainder goes to the bounty
        forfeited = bal
        self._balance[owner] -= bal
        self._bounty_left += bal
        bal = 0
    self._p_balance[pid] = bal
    if forfeited > 0 or bal == 0 or bal < self.min_stake * self._p_count[pid]:
        self._p_dropped[pid] = True
        self.active_participants -= 1
        log Dropped(participant=pid, balance=bal, forfeited=forfeited)


@internal
@view
def _needs_train() -> bool:
    return self.reset_model or self.pass_number == 1


@external
@view
def next_need() -> (uint256, uint256):
    """
    @notice What `process` needs next: (NEED_SAMPLE=1, contribution index),
            (NEED_PIECES=2, first piece index), (NEED_STEP=3, 0) for a step
            without data, or (NEED_NOTHING=0, 0) outside the reward phase.
    """
    if self.phase != REWARD:
        return NEED_NOTHING, 0
    if self._eval_active:
        return NEED_PIECES, self._eval_piece
    if self.stage != VISIT:
        return NEED_STEP, 0
    c: uint256 = self.cursor
    if c >= self.num_contributions:
        if self._group != NO_GROUP and self.reset_model:
            return NEED_PIECES, self._first_piece()
        return NEED_STEP, 0
    pid: uint256 = self._pid(c)
    if self._p_dropped[pid]:
        return NEED_STEP, 0
    if self._group != NO_GROUP and self._group != pid:
        if self.reset_model:
            return NEED_PIECES, self._first_piece()
        return NEED_STEP, 0
    if self._needs_train():
        return NEED_SAMPLE, c
    return NEED_STEP, 0


@external
def process(max_steps: uint256, sample: DynArray[uint256, MAX_SAMPLE_WORDS], pieces: DynArray[uint256, MAX_CALL_WORDS]) -> uint256:
    """
    @notice Advance the reward phase (anyone) by up to `max_steps` steps.
            `sample` is the next contribution's sample when one must be
            replayed (see `next_need`; empty otherwise); `pieces` holds test
            pieces [salt, L, body...] in order from the evaluation cursor.
            Stops early when the data given is used up or before an item
            whose worst-case cost would exceed the call's gas budget.
    @return The number of steps taken (0 means: give the data `next_need` names).
    """
    assert self.phase == REWARD, "market: not in the reward phase"
    gas_start: uint256 = msg.gas
    sample_used: bool = len(sample) == 0
    pos: uint256 = 0
    steps: uint256 = 0
    num_pieces: uint256 = len(self._hashes)
    drawn: uint256 = self._drawn - 1
    # each weight slot is cold at most once per call
    cold_left: uint256 = (self.num_features + 1) // 2
    for it: uint256 in range(max_steps, bound=MAX_STEPS):
        if self.phase != REWARD:
            break
        used: uint256 = gas_start - msg.gas
        if self._eval_active:
            if pos >= len(pieces):
                break
            j: uint256 = self._eval_piece
            features: uint256 = self._piece_features[j]
            cold: uint256 = min(features, cold_left)
            worst: uint256 = PIECE_BASE_GAS + WORD_GAS * self._piece_words[j] + FEATURE_EVAL_GAS * features + COLD_SLOT_GAS * cold
            if steps > 0 and used + worst > STEP_GAS:
                break
            cold_left -= cold
            assert pos + 2 <= len(pieces), "market: truncated piece"
            length: uint256 = pieces[pos + 1]
            assert pos + 2 + length <= len(pieces), "market: truncated piece"
            assert self._piece_hash(pieces, pos) == self._hashes[j], "market: piece does not match its hash"
            self._eval_correct += self._count_correct(pieces, pos + 2, length)
            pos += 2 + length
            j += 1
            if j == drawn:
                j += 1
            self._eval_piece = j
            if j >= num_pieces:
                self._eval_done(self._eval_correct)
            steps += 1
            continue
        if used + FREE_STEP_GAS > STEP_GAS:
            break
        stage: uint256 = self.stage
        if stage != VISIT:
            self._settle_step()
            steps += 1
            continue
        c: uint256 = self.cursor
        if c >= self.num_contributions:
            if self._group != NO_GROUP:
                self._request_close()
            else:
                self.stage = SETTLE_FIND
                self._settle_cursor = 0
                self._k = self.rounds_left
            steps += 1
            continue
        pid: uint256 = self._pid(c)
        if self._p_dropped[pid]:
            self.cursor = c + 1
            steps += 1
            continue
        if self._group != NO_GROUP and self._group != pid:
            self._request_close()
            steps += 1
            continue
        if self._needs_train():
            if sample_used:
                break
            worst: uint256 = TRAIN_BASE_GAS + FEATURE_TRAIN_GAS * 8 * len(sample)
            if steps > 0 and used + worst > STEP_GAS:
                break
            assert keccak256(abi_encode(sample)) == self._contrib_hash[c], "market: sample does not match the contribution"
            sample_used = True
            self._train(sample)
            if not self.reset_model:
                self._group_last = c
                self._begin_eval(FOR_CACHE)
        self._group = pid
        self._group_last = c
        self.cursor = c + 1
        steps += 1
    return steps


# ------------------------------------------------------------- collection

@internal
def _pay(account: address, receiver: address, amount: uint256):
    assert raw_call(receiver, b"", value=amount, revert_on_failure=False), "market: transfer failed"
    log Withdrawn(account=account, receiver=receiver, amount=amount)


@internal
def _take_balance(account: address) -> uint256:
    """@dev Zero and return what `account` may withdraw now."""
    phase: uint256 = self.phase
    if phase == REVEAL and block.timestamp > self.reveal_deadline:
        self._fail()
        phase = FAILED
    if account == self.provider and (phase == FINISHED or phase == FAILED or phase == CANCELLED):
        amount: uint256 = self._bounty_left
        self._bounty_left = 0
        return amount + self._take_contributor(account, phase)
    return self._take_contributor(account, phase)


@internal
def _take_contributor(account: address, phase: uint256) -> uint256:
    if phase != FINISHED and phase != FAILED:
        return 0
    amount: uint256 = self._balance[account]
    if phase == FAILED:
        amount += self._count[account] * self._failed_share
        self._count[account] = 0
    self._balance[account] = 0
    return amount


@external
@nonreentrant
def withdraw() -> uint256:
    """
    @notice Withdraw your final balance (contributors) or what is left of the
            bounty (provider), once the market is finished, failed or
            cancelled.
    """
    amount: uint256 = self._take_balance(msg.sender)
    assert amount > 0, "market: nothing to withdraw"
    self._pay(msg.sender, msg.sender, amount)
    return amount


@external
@nonreentrant
def collect_unclaimed(account: address) -> uint256:
    """
    @notice Anyone, `any_claim_wait_s` after the market finished or failed:
            take the balance `account` has not withdrawn.
    """
    phase: uint256 = self.phase
    assert phase == FINISHED or phase == FAILED or phase == CANCELLED, "market: not finished"
    assert block.timestamp >= self.finished_at + self.any_claim_wait_s, "market: any_claim_wait_s has not passed"
    amount: uint256 = self._take_balance(account)
    assert amount > 0, "market: nothing to collect"
    self._pay(account, msg.sender, amount)
    return amount


# ------------------------------------------------------------------ views

@external
@view
def balance_of(account: address) -> uint256:
    """
    @notice What `account` (a contributor) could withdraw once the market is
            finished, as things stand now (deposits before the reward phase).
    """
    amount: uint256 = self._balance[account]
    if self.phase == FAILED or (self.phase == REVEAL and block.timestamp > self.reveal_deadline):
        share: uint256 = self.bounty // max(self.num_contributions, 1)
        if self.phase == FAILED:
            share = self._failed_share
        amount += self._count[account] * share
    return amount


@external
@view
def bounty_left() -> uint256:
    """@notice The provider's part of this contract's balance."""
    if self.phase == REVEAL and block.timestamp > self.reveal_deadline:
        n: uint256 = self.num_contributions
        return self.bounty - (self.bounty // n) * n
    return self._bounty_left


@external
@view
def num_pieces() -> uint256:
    return len(self._hashes)


@external
@view
def piece_hash(index: uint256) -> bytes32:
    return self._hashes[index]


@external
@view
def drawn_index() -> uint256:
    """@notice The drawn piece index, or max uint while not drawn."""
    if self._drawn == 0:
        return max_value(uint256)
    return self._drawn - 1


@external
@view
def next_reveal() -> uint256:
    return self._next_reveal


@external
@view
def weight(i: uint256) -> int256:
    """@notice Current weight `i` (i == MAX_FEATURES: the intercept) in the replay."""
    if i == MAX_FEATURES:
        return self._intercept(self._epoch)
    return self._weight(i, self._epoch)


@external
@view
def contribution(c: uint256) -> (address, uint256, bytes32):
    """@notice (contributor, deposit, sample hash) of contribution `c`."""
    v: uint256 = self._contrib[c]
    return convert(v & (2**160 - 1), address), v >> 160, self._contrib_hash[c]


@external
@view
def participant(pid: uint256) -> (address, uint256, uint256, bool, int256):
    """@notice (owner, balance, contributions, dropped, score this pass) of participant `pid`."""
    return self._p_owner[pid], self._p_balance[pid], self._p_count[pid], self._p_dropped[pid], self._score(pid)


@external
@view
def contributions_of(account: address) -> uint256:
    return self._count[account]
