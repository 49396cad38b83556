# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title Secure data market (one task)
@notice A model owner (MO, the deployer) pays data owners (DOs) to improve
        the public part of its model with updates that no single party sees:
        DOs are split into groups, and each group only reveals the SUM of its
        members' quantised updates (pairwise masks cancel in the sum; the
        masks of members that drop out are removed with their seeds,
        recovered from Shamir shares). Robust aggregation (Multi-Krum over
        group means) rejects poisoned groups. Byte layouts, numbers and the
        client side: docs/data-market.md. Phases:
          REGISTRATION  DOs `register` with a deposit until the register
                        deadline or until the task is full
          ROUNDS        `start` drew the groups; each round has a keys
                        phase (`post_keys`), a submit phase (`submit`), a
                        recovery phase (`reveal_share`, `recover`) and
                        ends with `finalize` (anyone)
          CLOSED        after the last round, or a round where nobody
                        posted keys: everyone withdraws what it is owed
          CANCELLED     the MO cancelled during registration
          FAILED        fewer than `min_dos` registered
        Money: the escrow `reward * max_dos * rounds` is paid at deploy.
        `finalize` credits `reward` to each submitter of a kept group.
        A roster member (posted keys) that does not submit forfeits its
        deposit to the MO's pot and becomes inactive. At CLOSED the MO gets
        the pot plus the unspent escrow; at CANCELLED/FAILED the whole
        escrow; DOs get their deposits back once the task is over and their
        earnings at any time.
        Invariant, after every transaction:
          self.balance == escrow_left + owner_pot + dos_owed
        where dos_owed is the sum over DOs of held deposits and unwithdrawn
        earnings (`deposit_held(a) + earned(a)`).
@dev    Packed layout: a masked vector is `n_words(n_params)` words of eight
        32-bit lanes; a lane carries a value mod 2^24 and its 8 high bits
        must be zero on input, so a group accumulator is a plain sum of
        words (at most 8 submissions plus 8 * 8 mask corrections land in a
        lane, far below its 2^32 room). Padding lanes of the last word must
        be zero, and recovery never touches them.
        Gas: one storage word per accumulator word and group; per-DO state
        is one packed word; phase, round, round start, group and registrant
        counts share one word. `finalize` reads each valid group's
        accumulator once per pass, word by word (no big memory arrays,
        whose static allocation would make memory expansion cost millions):
        pass 1 (only when Multi-Krum runs) accumulates the exact Gram matrix
        of the offset lanes with a packed dot product (four 64-bit lanes per
        MUL, one side's lanes reversed), pass 2 (warm reads) the weighted sum of the
        kept groups. The exact integer formulas are in the doc's "Robust
        aggregation" section and mirrored in markets/data/robust.py.
        The work of `finalize` grows with groups * words (and with
        groups^2 * words when Multi-Krum runs); at most 21.5M gas without
        Multi-Krum (16 groups, 4096 parameters), and the constructor bounds
        words * groups * (groups + 33) by MAX_WORK when it runs.
"""

# ------------------------------------------------------------- constants

CAP_PARAMS: constant(uint256) = 4096
CAP_WORDS: constant(uint256) = 512
CAP_DOS: constant(uint256) = 64
CAP_GROUP: constant(uint256) = 8
CAP_GROUPS: constant(uint256) = 16
CAP_ROUNDS: constant(uint256) = 100
CAP_SHARES: constant(uint256) = 384  # 48 bytes per group slot
SHARE_BYTES: constant(uint256) = 48
MAX_Q_CLIP: constant(uint256) = (2**23 - 1) // 8
# with Multi-Krum, finalize costs about 120 gas * words * groups * (groups + 33):
# this bound keeps it below 26M gas (16 groups: 2040 parameters; 10 groups: 3720)
MAX_WORK: constant(uint256) = 200_000
# lcm(1..8): group means scaled by it are exact integers (c_g = 840 // n_g)
MEAN_SCALE: constant(uint256) = 840
MEAN_FRAC_BITS: constant(uint256) = 8
HALF: constant(uint256) = 2**23

# lane masks (one copy of the pattern per 32-bit lane)
REP8: constant(uint256) = 2**0 + 2**32 + 2**64 + 2**96 + 2**128 + 2**160 + 2**192 + 2**224
REP4: constant(uint256) = 2**0 + 2**64 + 2**128 + 2**192
LOW8: constant(uint256) = 16777215 * REP8  # the 24 value bits of every lane
HIGH8: constant(uint256) = 4278190080 * REP8  # the 8 spare bits of every lane
HALF8: constant(uint256) = 8388608 * REP8  # 2^23 in every lane
ONE8: constant(uint256) = 16777216 * REP8  # 2^24 in every lane
EVEN: constant(uint256) = 4294967295 * REP4  # lanes 0, 2, 4, 6 as 64-bit lanes
LANE1_64: constant(uint256) = 18446744073709551615 * 2**64
M32: constant(uint256) = 2**32 - 1
M64: constant(uint256) = 2**64 - 1

# phases
REGISTRATION: constant(uint256) = 0
ROUNDS: constant(uint256) = 1
CLOSED: constant(uint256) = 2
CANCELLED: constant(uint256) = 3
FAILED: constant(uint256) = 4

# _state word: phase | round << 8 | round_start << 40 | groups << 104 | registered << 112
S_ROUND: constant(uint256) = 8
S_START: constant(uint256) = 40
S_GROUPS: constant(uint256) = 104
S_REG: constant(uint256) = 112

# member word: earned (128 bits) | keyed round | submitted round | recovered round | position | flags
M_EARNED: constant(uint256) = 2**128 - 1
M_KEYED: constant(uint256) = 128
M_SUBMITTED: constant(uint256) = 160
M_RECOVERED: constant(uint256) = 192
M_POS: constant(uint256) = 224
F_REGISTERED: constant(uint256) = 2**232
F_ACTIVE: constant(uint256) = 2**233
F_DEPOSIT: constant(uint256) = 2**234

# group word: round tag | keyed | submitted | recovered (per round) | active | accumulator round | size
G_KEYED: constant(uint256) = 32
G_SUBMITTED: constant(uint256) = 40
G_RECOVERED: constant(uint256) = 48
G_ACTIVE: constant(uint256) = 56
G_ACC_ROUND: constant(uint256) = 64
G_SIZE: constant(uint256) = 96
G_PER_ROUND: constant(uint256) = 2**56 - 1  # tag and the three per-round counters

# ---------------------------------------------------------------- events

event Registered:
    member: indexed(address)
    index: uint256
    enc_pk: bytes32

event Started:
    groups: uint256
    seed: bytes32

event Failed:
    registered: uint256

event Cancelled:
    escrow: uint256

event RoundStarted:
    round: indexed(uint256)
    keys_deadline: uint256
    submit_deadline: uint256
    recover_deadline: uint256

event KeysPosted:
    round: indexed(uint256)
    member: indexed(address)
    group: uint256
    mask_pk: bytes32
    shares: Bytes[CAP_SHARES]

event Submitted:
    round: indexed(uint256)
    member: indexed(address)
    group: uint256

event ShareRevealed:
    round: indexed(uint256)
    dropped: indexed(address)
    member: indexed(address)
    share: bytes32

event Recovered:
    round: indexed(uint256)
    dropped: indexed(address)
    group: uint256

event Forfeited:
    round: indexed(uint256)
    member: indexed(address)
    amount: uint256

event Paid:
    round: indexed(uint256)
    member: indexed(address)
    amount: uint256

event RoundFinalized:
    round: indexed(uint256)
    valid: uint256
    kept: uint256
    aggregate: DynArray[uint256, CAP_WORDS]

event Closed:
    escrow_returned: uint256

event Withdrawn:
    who: indexed(address)
    amount: uint256

# ----------------------------------------------------------------- config

OWNER: immutable(address)
N_PARAMS: immutable(uint256)
N_WORDS: immutable(uint256)
LAST_MASK: immutable(uint256)  # the real lanes of the last word
Q_SCALE: immutable(uint256)
Q_CLIP: immutable(uint256)
HEAD_SEED: immutable(uint256)
MAX_DOS: immutable(uint256)
MIN_DOS: immutable(uint256)
GROUP_SIZE: immutable(uint256)
THRESHOLD: immutable(uint256)
BYZANTINE: immutable(uint256)
N_ROUNDS: immutable(uint256)
REWARD: immutable(uint256)
DEPOSIT: immutable(uint256)
SLASH: immutable(bool)
REGISTER_S: immutable(uint256)
KEYS_S: immutable(uint256)
SUBMIT_S: immutable(uint256)
RECOVER_S: immutable(uint256)
REGISTER_DEADLINE: immutable(uint256)

public_part_uri: public(String[256])
public_part_hash: public(bytes32)

# ------------------------------------------------------------------ state

_state: uint256
group_seed: public(bytes32)
escrow_left: public(uint256)
owner_pot: public(uint256)
dos_owed: public(uint256)

_reg: address[CAP_DOS]  # registration order; after start, drawn order (position p)
_m: HashMap[address, uint256]
_enc: HashMap[address, bytes32]
_mask: HashMap[address, bytes32]
_gstate: uint256[CAP_GROUPS]
_acc: uint256[CAP_WORDS][CAP_GROUPS]
_commit: HashMap[address, bytes32[CAP_GROUP]]  # [from][slot - 1], latest submission of `from`
_revealed: HashMap[address, HashMap[address, uint256]]  # [member][dropped] -> round
_results: HashMap[uint256, uint256]  # round -> valid | kept << 16
_agg_hash: HashMap[uint256, bytes32]


@deploy
@payable
def __init__(
    public_part_uri: String[256],
    public_part_hash: bytes32,
    n_params: uint256,
    q_scale: uint256,
    q_clip: uint256,
    head_seed: uint256,
    max_dos: uint256,
    min_dos: uint256,
    group_size: uint256,
    threshold: uint256,
    byzantine_groups: uint256,
    rounds: uint256,
    reward: uint256,
    deposit: uint256,
    slash_rejected: bool,
    register_s: uint256,
    keys_s: uint256,
    submit_s: uint256,
    recover_s: uint256,
):
    """
    @notice Open a task; the value sent is the escrow and must equal
            `reward * max_dos * rounds`. The sender is the model owner.
    """
    assert n_params >= 1 and n_params <= CAP_PARAMS, "n_params: must be 1..4096"
    assert q_scale >= 1, "q_scale: must be at least 1"
    assert q_clip >= 1 and q_clip <= MAX_Q_CLIP, "q_clip: must be 1..(2^23 - 1) // 8"
    assert group_size >= 2 and group_size <= CAP_GROUP - 1, "group_size: must be 2..7"
    assert threshold >= 2 and threshold <= group_size, "threshold: must be 2..group_size"
    assert min_dos >= group_size, "min_dos: must be at least group_size"
    assert max_dos >= min_dos, "max_dos: must be at least min_dos"
    assert max_dos <= CAP_DOS, "max_dos: at most 64"
    assert max_dos // group_size <= CAP_GROUPS, "group_size: max_dos // group_size must be at most 16 groups"
    for n: uint256 in range(min_dos, max_dos + 1, bound=CAP_DOS + 1):
        g: uint256 = n // group_size
        assert (n + g - 1) // g <= CAP_GROUP, "group_size: some registrant count in min_dos..max_dos gives a group larger than 8"
    nw: uint256 = (n_params + 7) // 8
    groups: uint256 = max_dos // group_size
    assert byzantine_groups == 0 or nw * groups * (groups + 33) <= MAX_WORK, "n_params: too many for Multi-Krum over this many groups"
    assert byzantine_groups == 0 or byzantine_groups + 3 <= groups, "byzantine_groups: Multi-Krum needs byzantine_groups + 3 groups"
    assert rounds >= 1 and rounds <= CAP_ROUNDS, "rounds: must be 1..100"
    assert register_s > 0 and keys_s > 0 and submit_s > 0 and recover_s > 0, "durations: must be positive"
    assert reward > 0, "reward: must be positive"
    assert reward <= (2**128 - 1) // (max_dos * rounds), "reward: too large"
    assert deposit <= 2**96 - 1, "deposit: too large"
    assert msg.value == reward * max_dos * rounds, "escrow must equal reward * max_dos * rounds"

    OWNER = msg.sender
    N_PARAMS = n_params
    N_WORDS = nw
    last_mask: uint256 = max_value(uint256)
    if n_params % 8 != 0:
        last_mask = (1 << (32 * (n_params % 8))) - 1
    LAST_MASK = last_mask
    Q_SCALE = q_scale
    Q_CLIP = q_clip
    HEAD_SEED = head_seed
    MAX_DOS = max_dos
    MIN_DOS = min_dos
    GROUP_SIZE = group_size
    THRESHOLD = threshold
    BYZANTINE = byzantine_groups
    N_ROUNDS = rounds
    REWARD = reward
    DEPOSIT = deposit
    SLASH = slash_rejected
    REGISTER_S = register_s
    KEYS_S = keys_s
    SUBMIT_S = submit_s
    RECOVER_S = recover_s
    REGISTER_DEADLINE = block.timestamp + register_s
    self.public_part_uri = public_part_uri
    self.public_part_hash = public_part_hash
    self.escrow_left = msg.value


# ---------------------------------------------------------- registration

@external
@payable
def register(enc_pk: bytes32):
    """
    @notice Join the task with exactly `deposit` wei and a long-lived X25519
            encryption key (receivers of Shamir shares encrypt to it).
    """
    st: uint256 = self._state
    assert st & 255 == REGISTRATION, "register: registration is closed"
    assert block.timestamp < REGISTER_DEADLINE, "register: the registration deadline has passed"
    n: uint256 = (st >> S_REG) & 255
    assert n < MAX_DOS, "register: the task is full"
    assert msg.sender != OWNER, "register: the owner cannot register"
    assert self._m[msg.sender] == 0, "register: already registered"
    assert enc_pk != empty(bytes32), "register: empty encryption key"
    assert msg.value == DEPOSIT, "register: send exactly the deposit"
    self._reg[n] = msg.sender
    self._m[msg.sender] = F_REGISTERED | F_ACTIVE | F_DEPOSIT | (n << M_POS)
    self._enc[msg.sender] = enc_pk
    self._state = st + (1 << S_REG)
    if msg.value > 0:
        self.dos_owed += msg.value
    log Registered(member=msg.sender, index=n, enc_pk=enc_pk)


@external
def cancel():
    """@notice MO: cancel the task during registration; everyone gets back what it paid."""
    assert msg.sender == OWNER, "cancel: only the owner"
    st: uint256 = self._state
    assert st & 255 == REGISTRATION, "cancel: only during registration"
    self._state = (st & ~255) | CANCELLED
    escrow: uint256 = self.escrow_left
    self.owner_pot += escrow
    self.escrow_left = 0
    log Cancelled(escrow=escrow)


@external
def start():
    """
    @notice Anyone, once the register deadline passed or the task is full:
            draw the groups and open round 1 (or FAIL below min_dos).
    @dev    seed = keccak256(blockhash(block.number - 1) ++ this address);
            Fisher-Yates over the registrants in registration order: for
            i = n-1 down to 1, j = uint256(keccak256(seed ++ uint256(i))) % (i+1),
            swap positions i and j. Position p goes to group p % G
            (G = n // group_size) as slot p // G + 1.
    """
    st: uint256 = self._state
    assert st & 255 == REGISTRATION, "start: not in registration"
    n: uint256 = (st >> S_REG) & 255
    assert block.timestamp >= REGISTER_DEADLINE or n == MAX_DOS, "start: registration is still open"
    if n < MIN_DOS:
        self._state = (st & ~255) | FAILED
        escrow: uint256 = self.escrow_left
        self.owner_pot += escrow
        self.escrow_left = 0
        log Failed(registered=n)
        return
    seed: bytes32 = keccak256(concat(blockhash(block.number - 1), convert(self, bytes20)))
    self.group_seed = seed
    order: address[CAP_DOS] = empty(address[CAP_DOS])
    for p: uint256 in range(n, bound=CAP_DOS):
        order[p] = self._reg[p]
    for k: uint256 in range(n - 1, bound=CAP_DOS):
        i: uint256 = n - 1 - k
        j: uint256 = convert(keccak256(concat(seed, convert(i, bytes32))), uint256) % (i + 1)
        tmp: address = order[i]
        order[i] = order[j]
        order[j] = tmp
    for p: uint256 in range(n, bound=CAP_DOS):
        a: address = order[p]
        m: uint256 = self._m[a]
        if (m >> M_POS) & 255 != p:
            self._reg[p] = a
            self._m[a] = (m & ~(255 << M_POS)) | (p << M_POS)
    groups: uint256 = n // GROUP_SIZE
    base: uint256 = n // groups
    extra: uint256 = n % groups
    for g: uint256 in range(groups, bound=CAP_GROUPS):
        size: uint256 = base
        if g < extra:
            size += 1
        self._gstate[g] = (size << G_SIZE) | (size << G_ACTIVE)
    now: uint256 = block.timestamp
    self._state = ROUNDS | (1 << S_ROUND) | (now << S_START) | (groups << S_GROUPS) | (n << S_REG)
    log Started(groups=groups, seed=seed)
    log RoundStarted(round=1, keys_deadline=now + KEYS_S, submit_deadline=now + KEYS_S + SUBMIT_S, recover_deadline=now + KEYS_S + SUBMIT_S + RECOVER_S)


# ---------------------------------------------------------------- rounds

@internal
@view
def _round_state(round_: uint256) -> (uint256, uint256, uint256):
    """@dev (round, round start, groups) of the running round; checks `round_` is it."""
    st: uint256 = self._state
    assert st & 255 == ROUNDS, "round: the task is not running rounds"
    r: uint256 = (st >> S_ROUND) & M32
    assert round_ == r, "round: not the current round"
    return r, (st >> S_START) & M64, (st >> S_GROUPS) & 255


@internal
@view
def _group_word(g: uint256, r: uint256) -> uint256:
    """@dev Group word with the per-round counters of round `r` (zero if stale)."""
    w: uint256 = self._gstate[g]
    if w & M32 != r:
        w = (w & ~G_PER_ROUND) | r
    return w


@internal
@pure
def _settled(w: uint256, now: uint256, keys_end: uint256, submit_end: uint256) -> bool:
    keyed: uint256 = (w >> G_KEYED) & 255
    if now < keys_end and keyed != (w >> G_ACTIVE) & 255:
        return False  # roster not final
    submitted: uint256 = (w >> G_SUBMITTED) & 255
    if submitted == keyed:
        return True
    return now >= submit_end and submitted + ((w >> G_RECOVERED) & 255) == keyed


@external
def post_keys(round_: uint256, mask_pk: bytes32, shares: Bytes[CAP_SHARES]):
    """
    @notice Join this round's roster of your group: a fresh X25519 mask key
            and one 48-byte encrypted Shamir share of its secret per group
            slot, in slot order (zeros at your own slot).
    """
    r: uint256 = 0
    t0: uint256 = 0
    groups: uint256 = 0
    r, t0, groups = self._round_state(round_)
    assert block.timestamp < t0 + KEYS_S, "keys: the keys phase is over"
    m: uint256 = self._m[msg.sender]
    assert m & F_ACTIVE != 0, "keys: not an active member"
    assert (m >> M_KEYED) & M32 != r, "keys: already posted this round"
    assert mask_pk != empty(bytes32), "keys: empty mask key"
    g: uint256 = ((m >> M_POS) & 255) % groups
    w: uint256 = self._group_word(g, r)
    assert len(shares) == SHARE_BYTES * ((w >> G_SIZE) & 255), "keys: shares must be 48 bytes per group slot"
    self._mask[msg.sender] = mask_pk
    self._m[msg.sender] = (m & ~(M32 << M_KEYED)) | (r << M_KEYED)
    self._gstate[g] = w + (1 << G_KEYED)
    log KeysPosted(round=r, member=msg.sender, group=g, mask_pk=mask_pk, shares=shares)


@external
def submit(round_: uint256, masked: DynArray[uint256, CAP_WORDS], seed_commits: DynArray[bytes32, CAP_GROUP]):
    """
    @notice Add your masked vector to your group's sum, and commit to the
            pair seed you share with every other roster member (entry
            `slot - 1`; yours and non-roster entries are ignored).
    """
    r: uint256 = 0
    t0: uint256 = 0
    groups: uint256 = 0
    r, t0, groups = self._round_state(round_)
    m: uint256 = self._m[msg.sender]
    assert (m >> M_KEYED) & M32 == r, "submit: not in this round's roster (post keys first)"
    assert (m >> M_SUBMITTED) & M32 != r, "submit: already submitted"
    now: uint256 = block.timestamp
    keys_end: uint256 = t0 + KEYS_S
    assert now < keys_end + SUBMIT_S, "submit: the submit phase is over"
    pos: uint256 = (m >> M_POS) & 255
    g: uint256 = pos % groups
    slot: uint256 = pos // groups + 1
    w: uint256 = self._group_word(g, r)
    assert now >= keys_end or (w >> G_KEYED) & 255 == (w >> G_ACTIVE) & 255, "submit: the group's roster is not final yet"
    nw: uint256 = N_WORDS
    assert len(masked) == nw, "submit: wrong number of words"
    size: uint256 = (w >> G_SIZE) & 255
    assert len(seed_commits) == size, "submit: one seed commitment per group slot"
    assert masked[nw - 1] & ~LAST_MASK == 0, "submit: lane out of range (padding lanes must be zero)"
    seen: uint256 = 0
    if (w >> G_SUBMITTED) & 255 == 0:
        for i: uint256 in range(nw, bound=CAP_WORDS):
            x: uint256 = masked[i]
            seen |= x
            self._acc[g][i] = x
        w = (w & ~(M32 << G_ACC_ROUND)) | (r << G_ACC_ROUND)
    else:
        for i: uint256 in range(nw, bound=CAP_WORDS):
            x: uint256 = masked[i]
            seen |= x
            self._acc[g][i] = unsafe_add(self._acc[g][i], x)
    assert seen & HIGH8 == 0, "submit: lane out of range"
    for s: uint256 in range(size, bound=CAP_GROUP):
        if s + 1 != slot:
            self._commit[msg.sender][s] = seed_commits[s]
    self._m[msg.sender] = (m & ~(M32 << M_SUBMITTED)) | (r << M_SUBMITTED)
    self._gstate[g] = w + (1 << G_SUBMITTED)
    log Submitted(round=r, member=msg.sender, group=g)


@external
def reveal_share(round_: uint256, dropped: address, share: bytes32):
    """
    @notice Recovery phase: publish your decrypted share of the mask key of
            `dropped`, a roster member of your group that did not submit.
    """
    r: uint256 = 0
    t0: uint256 = 0
    groups: uint256 = 0
    r, t0, groups = self._round_state(round_)
    submit_end: uint256 = t0 + KEYS_S + SUBMIT_S
    assert block.timestamp >= submit_end and block.timestamp < submit_end + RECOVER_S, "reveal: outside the recovery phase"
    md: uint256 = self._m[dropped]
    assert (md >> M_KEYED) & M32 == r, "dropped: not in this round's roster"
    assert (md >> M_SUBMITTED) & M32 != r, "dropped: it submitted; its shares stay secret"
    m: uint256 = self._m[msg.sender]
    assert m & F_ACTIVE != 0, "reveal: not an active member"
    assert msg.sender != dropped, "reveal: not your own share"
    assert ((m >> M_POS) & 255) % groups == ((md >> M_POS) & 255) % groups, "reveal: not in the dropped member's group"
    assert self._revealed[msg.sender][dropped] != r, "reveal: already revealed"
    self._revealed[msg.sender][dropped] = r
    log ShareRevealed(round=r, dropped=dropped, member=msg.sender, share=share)


@external
def recover(round_: uint256, dropped: address, seeds: DynArray[bytes32, CAP_GROUP]):
    """
    @notice Anyone, in the recovery phase: remove the pairwise masks of
            `dropped` (a roster member that did not submit) from its group's
            sum. `seeds[slot_v - 1]` is the pair seed of `dropped` and v for
            every member v that submitted (others are ignored); each is
            checked against the commitment v posted at submit.
    """
    r: uint256 = 0
    t0: uint256 = 0
    groups: uint256 = 0
    r, t0, groups = self._round_state(round_)
    submit_end: uint256 = t0 + KEYS_S + SUBMIT_S
    assert block.timestamp >= submit_end and block.timestamp < submit_end + RECOVER_S, "recover: outside the recovery phase"
    md: uint256 = self._m[dropped]
    assert (md >> M_KEYED) & M32 == r, "recover: not in this round's roster"
    assert (md >> M_SUBMITTED) & M32 != r, "recover: it submitted"
    assert (md >> M_RECOVERED) & M32 != r, "recover: already recovered"
    pos: uint256 = (md >> M_POS) & 255
    g: uint256 = pos % groups
    dslot: uint256 = pos // groups
    w: uint256 = self._group_word(g, r)
    size: uint256 = (w >> G_SIZE) & 255
    assert len(seeds) == size, "recover: one seed per group slot"
    du: uint256 = convert(dropped, uint256)
    used: DynArray[bytes32, CAP_GROUP] = []
    lower: DynArray[bool, CAP_GROUP] = []
    for s: uint256 in range(size, bound=CAP_GROUP):
        v: address = self._reg[g + s * groups]
        if (self._m[v] >> M_SUBMITTED) & M32 == r:
            assert keccak256(seeds[s]) == self._commit[v][dslot], "recover: seed mismatch"
            used.append(seeds[s])
            lower.append(convert(v, uint256) < du)
    k: uint256 = len(used)
    if k > 0:
        nw: uint256 = N_WORDS
        for i: uint256 in range(nw, bound=CAP_WORDS):
            corr: uint256 = 0
            for q: uint256 in range(k, bound=CAP_GROUP):
                h: uint256 = convert(keccak256(concat(used[q], convert(i, bytes32))), uint256) & LOW8
                if lower[q]:
                    # v added +PRG: add -PRG mod 2^24 in every lane
                    h = unsafe_sub(ONE8, h) & LOW8
                corr = unsafe_add(corr, h)
            if i == nw - 1:
                corr &= LAST_MASK
            self._acc[g][i] = unsafe_add(self._acc[g][i], corr)
    self._m[dropped] = (md & ~(M32 << M_RECOVERED)) | (r << M_RECOVERED)
    self._gstate[g] = w + (1 << G_RECOVERED)
    log Recovered(round=r, dropped=dropped, group=g)


@internal
@view
def _can_finalize() -> bool:
    st: uint256 = self._state
    if st & 255 != ROUNDS:
        return False
    r: uint256 = (st >> S_ROUND) & M32
    keys_end: uint256 = ((st >> S_START) & M64) + KEYS_S
    submit_end: uint256 = keys_end + SUBMIT_S
    now: uint256 = block.timestamp
    if now >= submit_end + RECOVER_S:
        return True
    for g: uint256 in range((st >> S_GROUPS) & 255, bound=CAP_GROUPS):
        if not self._settled(self._group_word(g, r), now, keys_end, submit_end):
            return False
    return True


@external
def finalize():
    """
    @notice Anyone, after the recovery deadline or once every group is
            settled: decide valid groups, run Multi-Krum over their means,
            pay the kept groups' submitters, forfeit the deposits of roster
            members that did not submit, publish the aggregate and open the
            next round (or close the task).
    """
    st: uint256 = self._state
    assert st & 255 == ROUNDS, "finalize: the task is not running rounds"
    r: uint256 = (st >> S_ROUND) & M32
    groups: uint256 = (st >> S_GROUPS) & 255
    keys_end: uint256 = ((st >> S_START) & M64) + KEYS_S
    submit_end: uint256 = keys_end + SUBMIT_S
    now: uint256 = block.timestamp
    late: bool = now >= submit_end + RECOVER_S

    # ---- valid groups (a = index among valid groups, in group order)
    valid: uint256 = 0
    nv: uint256 = 0
    gidx: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    wts: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])  # c_a = 840 // n_a
    keyed_total: uint256 = 0
    for g: uint256 in range(groups, bound=CAP_GROUPS):
        w: uint256 = self._group_word(g, r)
        keyed_total += (w >> G_KEYED) & 255
        if self._settled(w, now, keys_end, submit_end):
            submitted: uint256 = (w >> G_SUBMITTED) & 255
            if submitted >= THRESHOLD:
                valid |= 1 << g
                gidx[nv] = g
                wts[nv] = MEAN_SCALE // submitted
                nv += 1
        else:
            assert late, "finalize: wait for the recovery deadline or for every group to settle"

    # ---- robust selection (bit a of keep_a: valid group a kept)
    keep_a: uint256 = 0
    f: uint256 = BYZANTINE
    nw: uint256 = N_WORDS
    if f == 0:
        keep_a = (1 << nv) - 1
    elif nv >= f + 3:
        keep_a = self._multi_krum(gidx, wts, nv, f, nw)
    kept: uint256 = 0
    nk: uint256 = 0
    csum: uint256 = 0
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        if keep_a & (1 << a) != 0:
            kept |= 1 << gidx[a]
            nk += 1
            csum += wts[a]

    # ---- aggregate: lane = trunc(2^8 * sum_kept(c_a * s_a) / (840 * K)), int32 lanes
    agg: DynArray[uint256, CAP_WORDS] = []
    if nk == 0:
        for i: uint256 in range(nw, bound=CAP_WORDS):
            agg.append(0)
    else:
        agg = self._aggregate(gidx, wts, nv, keep_a, nk, csum, nw)
    agg_hash: bytes32 = keccak256(abi_encode(agg))

    # ---- money: pay kept submitters, forfeit non-submitters (and slashed)
    reward: uint256 = REWARD
    deposit: uint256 = DEPOSIT
    paid: uint256 = 0
    forfeited: uint256 = 0
    n: uint256 = (st >> S_REG) & 255
    for p: uint256 in range(n, bound=CAP_DOS):
        a: address = self._reg[p]
        m: uint256 = self._m[a]
        if (m >> M_KEYED) & M32 != r:
            continue
        g: uint256 = p % groups
        bit: uint256 = 1 << g
        forfeit: bool = False
        if (m >> M_SUBMITTED) & M32 == r:
            if kept & bit != 0:
                self._m[a] = m + reward
                paid += 1
                log Paid(round=r, member=a, amount=reward)
            elif SLASH and valid & bit != 0:
                forfeit = True
        else:
            forfeit = True
        if forfeit:
            amount: uint256 = 0
            if m & F_DEPOSIT != 0:
                amount = deposit
            self._m[a] = m & ~(F_ACTIVE | F_DEPOSIT)
            forfeited += amount
            self._gstate[g] = self._gstate[g] - (1 << G_ACTIVE)
            log Forfeited(round=r, member=a, amount=amount)
    escrow: uint256 = self.escrow_left - paid * reward
    pot: uint256 = self.owner_pot + forfeited
    if paid > 0 or forfeited > 0:
        self.dos_owed = self.dos_owed + paid * reward - forfeited

    self._results[r] = valid | (kept << 16)
    self._agg_hash[r] = agg_hash
    log RoundFinalized(round=r, valid=valid, kept=kept, aggregate=agg)

    if r == N_ROUNDS or keyed_total == 0:
        self._state = (st & ~255) | CLOSED
        self.owner_pot = pot + escrow
        self.escrow_left = 0
        log Closed(escrow_returned=escrow)
    else:
        self.owner_pot = pot
        self.escrow_left = escrow
        self._state = (st & ~((M32 << S_ROUND) | (M64 << S_START))) | ((r + 1) << S_ROUND) | (now << S_START)
        log RoundStarted(round=r + 1, keys_deadline=now + KEYS_S, submit_deadline=now + KEYS_S + SUBMIT_S, recover_deadline=now + KEYS_S + SUBMIT_S + RECOVER_S)


@internal
@view
def _multi_krum(gidx: uint256[CAP_GROUPS], wts: uint256[CAP_GROUPS], nv: uint256, f: uint256, nw: uint256) -> uint256:
    """
    @dev Multi-Krum over the valid groups' means; returns the kept set as a
         bitmask over valid-group indices. With u = (s + 2^23) the offset
         lanes (0 <= u < 2^24), the pass accumulates the Gram matrix
         gram[a][b] = sum_l u_a,l * u_b,l: a word's even (odd) lanes spread
         to four 64-bit lanes, times the other group's lanes in reverse
         order, carry their dot product in the top 64 bits (each product
         < 2^48, four of them < 2^50: no lane overflows).
    """
    gram: uint256[256] = empty(uint256[256])  # [a * 16 + b], a <= b
    lsum: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])  # 64-bit lane sums of u
    ue: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    uo: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    re: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    ro: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    for i: uint256 in range(nw, bound=CAP_WORDS):
        for a: uint256 in range(nv, bound=CAP_GROUPS):
            u: uint256 = unsafe_add(self._acc[gidx[a]][i], HALF8) & LOW8
            e: uint256 = u & EVEN
            o: uint256 = (u >> 32) & EVEN
            ue[a] = e
            uo[a] = o
            # the same lanes in reverse 64-bit lane order
            ro[a] = (e << 192) | ((e & LANE1_64) << 64) | ((e >> 64) & LANE1_64) | (e >> 192)
            re[a] = (o << 192) | ((o & LANE1_64) << 64) | ((o >> 64) & LANE1_64) | (o >> 192)
            lsum[a] = unsafe_add(lsum[a], unsafe_add(e, o))
        for a: uint256 in range(nv, bound=CAP_GROUPS):
            ea: uint256 = ue[a]
            oa: uint256 = uo[a]
            row: uint256 = a * 16
            for b: uint256 in range(a, nv, bound=CAP_GROUPS):
                ab: uint256 = unsafe_add(row, b)
                # the low 192 bits of a product stay below 2^179 and their sum over
                # 512 words below 2^188: the top 64 bits accumulate exactly
                gram[ab] = unsafe_add(gram[ab], unsafe_add(unsafe_mul(ea, ro[b]), unsafe_mul(oa, re[b])))

    # exact squared distances between scaled means: D_ab = sum_l (c_a s_a,l - c_b s_b,l)^2
    hh: int256 = convert(HALF, int256)
    lh2: int256 = convert(8 * nw, int256) * hh * hh
    tot: int256[CAP_GROUPS] = empty(int256[CAP_GROUPS])
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        tot[a] = convert(unsafe_mul(lsum[a], REP4) >> 192, int256)
        for b: uint256 in range(a, nv, bound=CAP_GROUPS):
            gram[a * 16 + b] = gram[a * 16 + b] >> 192
    dist: uint256[256] = empty(uint256[256])
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        ca: int256 = convert(wts[a], int256)
        na: int256 = convert(gram[a * 17], int256) - 2 * hh * tot[a] + lh2
        for b: uint256 in range(a + 1, nv, bound=CAP_GROUPS):
            cb: int256 = convert(wts[b], int256)
            nb: int256 = convert(gram[b * 17], int256) - 2 * hh * tot[b] + lh2
            gab: int256 = convert(gram[a * 16 + b], int256) - hh * (tot[a] + tot[b]) + lh2
            d: uint256 = convert(ca * ca * na + cb * cb * nb - 2 * ca * cb * gab, uint256)
            dist[a * 16 + b] = d
            dist[b * 16 + a] = d

    # score: sum of the nv - f - 2 smallest distances to other valid groups
    k: uint256 = nv - f - 2
    scores: uint256[CAP_GROUPS] = empty(uint256[CAP_GROUPS])
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        row: DynArray[uint256, CAP_GROUPS] = []
        for b: uint256 in range(nv, bound=CAP_GROUPS):
            if b == a:
                continue
            d: uint256 = dist[a * 16 + b]
            # insertion into the sorted row
            row.append(d)
            j: uint256 = len(row) - 1
            for t: uint256 in range(CAP_GROUPS):
                if j == 0 or row[j - 1] <= d:
                    break
                row[j] = row[j - 1]
                j -= 1
            row[j] = d
        s: uint256 = 0
        for j: uint256 in range(k, bound=CAP_GROUPS):
            s += row[j]
        scores[a] = s

    # keep the nv - f lowest scores; ties: lower group index
    keep: uint256 = 0
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        rank: uint256 = 0
        for b: uint256 in range(nv, bound=CAP_GROUPS):
            if scores[b] < scores[a] or (scores[b] == scores[a] and b < a):
                rank += 1
        if rank < nv - f:
            keep |= 1 << a
    return keep


@internal
@view
def _aggregate(gidx: uint256[CAP_GROUPS], wts: uint256[CAP_GROUPS], nv: uint256, keep_a: uint256, nk: uint256, csum: uint256, nw: uint256) -> DynArray[uint256, CAP_WORDS]:
    """
    @dev Weighted sum of the kept groups' offset lanes in 64-bit lanes
         (c_a * u < 2^33, at most 16 terms), then per lane
         trunc((sum - 2^23 * csum) * 2^8 / (840 * K)) as an int32.
    """
    ks: DynArray[uint256, CAP_GROUPS] = []
    kc: DynArray[uint256, CAP_GROUPS] = []
    for a: uint256 in range(nv, bound=CAP_GROUPS):
        if keep_a & (1 << a) != 0:
            ks.append(gidx[a])
            kc.append(wts[a])
    off: uint256 = HALF * csum
    den: uint256 = MEAN_SCALE * nk
    out: DynArray[uint256, CAP_WORDS] = []
    for i: uint256 in range(nw, bound=CAP_WORDS):
        se: uint256 = 0
        so: uint256 = 0
        for q: uint256 in range(nk, bound=CAP_GROUPS):
            u: uint256 = unsafe_add(self._acc[ks[q]][i], HALF8) & LOW8
            c: uint256 = kc[q]
            se = unsafe_add(se, unsafe_mul(u & EVEN, c))
            so = unsafe_add(so, unsafe_mul((u >> 32) & EVEN, c))
        # lanes 0, 2, 4, 6 from se and 1, 3, 5, 7 from so: one word of int32 lanes
        word: uint256 = 0
        for j: uint256 in range(4):
            sh: uint256 = unsafe_mul(j, 64)
            x: uint256 = (se >> sh) & M64
            if x >= off:
                x = unsafe_div(unsafe_sub(x, off) << MEAN_FRAC_BITS, den)
            else:
                x = unsafe_sub(0, unsafe_div(unsafe_sub(off, x) << MEAN_FRAC_BITS, den)) & M32
            y: uint256 = (so >> sh) & M64
            if y >= off:
                y = unsafe_div(unsafe_sub(y, off) << MEAN_FRAC_BITS, den)
            else:
                y = unsafe_sub(0, unsafe_div(unsafe_sub(off, y) << MEAN_FRAC_BITS, den)) & M32
            word |= (x | (y << 32)) << sh
        out.append(word)
    return out


# ---------------------------------------------------------------- money

@internal
@view
def _owed(who: address) -> (uint256, uint256):
    """@dev (amount withdrawable now, member word after withdrawing it)."""
    final: bool = self._state & 255 >= CLOSED
    if who == OWNER:
        if final:
            return self.owner_pot, 0
        return 0, 0
    m: uint256 = self._m[who]
    amount: uint256 = m & M_EARNED
    m &= ~M_EARNED
    if final and m & F_DEPOSIT != 0:
        amount += DEPOSIT
        m &= ~F_DEPOSIT
    return amount, m


@external
@nonreentrant
def withdraw() -> uint256:
    """
    @notice Take everything the contract owes you now: earned rewards at any
            time; your deposit once the task is CLOSED, CANCELLED or FAILED
            (unless forfeited); the MO's pot (forfeits and unspent escrow)
            once the task is over.
    """
    amount: uint256 = 0
    m: uint256 = 0
    amount, m = self._owed(msg.sender)
    assert amount > 0, "withdraw: nothing to withdraw"
    if msg.sender == OWNER:
        self.owner_pot = 0
    else:
        self._m[msg.sender] = m
        self.dos_owed -= amount
    ok: bool = raw_call(msg.sender, b"", value=amount, revert_on_failure=False)
    assert ok, "withdraw: transfer failed"
    log Withdrawn(who=msg.sender, amount=amount)
    return amount


# ------------------------------------------------------------------ views

@external
@view
def owner() -> address:
    return OWNER


@external
@view
def phase() -> uint8:
    """@notice 0 REGISTRATION, 1 ROUNDS, 2 CLOSED, 3 CANCELLED, 4 FAILED."""
    return convert(self._state & 255, uint8)


@external
@view
def current_round() -> uint256:
    """@notice The running round (1-based); the last one once closed; 0 before start."""
    return (self._state >> S_ROUND) & M32


@external
@view
def round_start() -> uint256:
    return (self._state >> S_START) & M64


@external
@view
def n_params() -> uint256:
    return N_PARAMS


@external
@view
def n_words() -> uint256:
    return N_WORDS


@external
@view
def q_scale() -> uint256:
    return Q_SCALE


@external
@view
def q_clip() -> uint256:
    return Q_CLIP


@external
@view
def head_seed() -> uint256:
    return HEAD_SEED


@external
@view
def max_dos() -> uint256:
    return MAX_DOS


@external
@view
def min_dos() -> uint256:
    return MIN_DOS


@external
@view
def group_size() -> uint256:
    return GROUP_SIZE


@external
@view
def threshold() -> uint256:
    return THRESHOLD


@external
@view
def byzantine_groups() -> uint256:
    return BYZANTINE


@external
@view
def rounds() -> uint256:
    return N_ROUNDS


@external
@view
def reward() -> uint256:
    return REWARD


@external
@view
def deposit() -> uint256:
    return DEPOSIT


@external
@view
def slash_rejected() -> bool:
    return SLASH


@external
@view
def register_s() -> uint256:
    return REGISTER_S


@external
@view
def keys_s() -> uint256:
    return KEYS_S


@external
@view
def submit_s() -> uint256:
    return SUBMIT_S


@external
@view
def recover_s() -> uint256:
    return RECOVER_S


@external
@view
def register_deadline() -> uint256:
    return REGISTER_DEADLINE


@external
@view
def registered_count() -> uint256:
    return (self._state >> S_REG) & 255


@external
@view
def registrants() -> DynArray[address, CAP_DOS]:
    """@notice Registration order before `start`; drawn order (position p) after."""
    out: DynArray[address, CAP_DOS] = []
    for p: uint256 in range((self._state >> S_REG) & 255, bound=CAP_DOS):
        out.append(self._reg[p])
    return out


@external
@view
def enc_key(who: address) -> bytes32:
    return self._enc[who]


@external
@view
def group_count() -> uint256:
    return (self._state >> S_GROUPS) & 255


@external
@view
def group_members(g: uint256) -> DynArray[address, CAP_GROUP]:
    """@notice Members of group `g` in slot order (slot 1 first)."""
    st: uint256 = self._state
    groups: uint256 = (st >> S_GROUPS) & 255
    assert g < groups, "group: no such group"
    n: uint256 = (st >> S_REG) & 255
    out: DynArray[address, CAP_GROUP] = []
    for s: uint256 in range(CAP_GROUP):
        p: uint256 = g + s * groups
        if p >= n:
            break
        out.append(self._reg[p])
    return out


@external
@view
def group_of(who: address) -> uint256:
    """@notice 0-based group of a member; max uint256 for non-members or before start."""
    groups: uint256 = (self._state >> S_GROUPS) & 255
    m: uint256 = self._m[who]
    if groups == 0 or m == 0:
        return max_value(uint256)
    return ((m >> M_POS) & 255) % groups


@external
@view
def slot_of(who: address) -> uint256:
    """@notice 1-based slot of a member in its group; 0 for non-members or before start."""
    groups: uint256 = (self._state >> S_GROUPS) & 255
    m: uint256 = self._m[who]
    if groups == 0 or m == 0:
        return 0
    return ((m >> M_POS) & 255) // groups + 1


@external
@view
def group_size_of(g: uint256) -> uint256:
    """@notice Members of group `g`."""
    return (self._gstate[g] >> G_SIZE) & 255


@external
@view
def group_active(g: uint256) -> uint256:
    """@notice Members of group `g` that are still active."""
    return (self._gstate[g] >> G_ACTIVE) & 255


@external
@view
def group_counts(g: uint256) -> (uint256, uint256, uint256):
    """@notice (keyed, submitted, recovered) members of group `g` in the current round."""
    w: uint256 = self._group_word(g, (self._state >> S_ROUND) & M32)
    return (w >> G_KEYED) & 255, (w >> G_SUBMITTED) & 255, (w >> G_RECOVERED) & 255


@external
@view
def is_active(who: address) -> bool:
    return self._m[who] & F_ACTIVE != 0


@external
@view
def is_registered(who: address) -> bool:
    return self._m[who] & F_REGISTERED != 0


@external
@view
def mask_key(who: address) -> bytes32:
    """@notice The mask key `who` posted in the current round (zero if none)."""
    if (self._m[who] >> M_KEYED) & M32 != (self._state >> S_ROUND) & M32:
        return empty(bytes32)
    return self._mask[who]


@external
@view
def keyed_round(who: address) -> uint256:
    return (self._m[who] >> M_KEYED) & M32


@external
@view
def submitted_round(who: address) -> uint256:
    return (self._m[who] >> M_SUBMITTED) & M32


@external
@view
def recovered_round(who: address) -> uint256:
    return (self._m[who] >> M_RECOVERED) & M32


@external
@view
def group_sum(g: uint256) -> DynArray[uint256, CAP_WORDS]:
    """@notice Raw accumulator words of group `g` (lanes with carries; see `group_round`)."""
    out: DynArray[uint256, CAP_WORDS] = []
    for i: uint256 in range(N_WORDS, bound=CAP_WORDS):
        out.append(self._acc[g][i])
    return out


@external
@view
def group_round(g: uint256) -> uint256:
    """@notice The round whose submissions the accumulator of group `g` holds (0: none)."""
    return (self._gstate[g] >> G_ACC_ROUND) & M32


@external
@view
def keys_deadline() -> uint256:
    return ((self._state >> S_START) & M64) + KEYS_S


@external
@view
def submit_deadline() -> uint256:
    return ((self._state >> S_START) & M64) + KEYS_S + SUBMIT_S


@external
@view
def recover_deadline() -> uint256:
    return ((self._state >> S_START) & M64) + KEYS_S + SUBMIT_S + RECOVER_S


@external
@view
def can_finalize() -> bool:
    return self._can_finalize()


@external
@view
def balance_of(who: address) -> uint256:
    """@notice What `withdraw` would pay `who` now."""
    amount: uint256 = 0
    m: uint256 = 0
    amount, m = self._owed(who)
    return amount


@external
@view
def earned(who: address) -> uint256:
    """@notice Rewards credited to `who` and not yet withdrawn."""
    return self._m[who] & M_EARNED


@external
@view
def deposit_held(who: address) -> uint256:
    """@notice The deposit the contract holds for `who` (0 once forfeited or withdrawn)."""
    if self._m[who] & F_DEPOSIT != 0:
        return DEPOSIT
    return 0


@external
@view
def aggregate_hash(round_: uint256) -> bytes32:
    """@notice keccak256(abi.encode(uint256[] aggregate)) of a finalized round."""
    return self._agg_hash[round_]


@external
@view
def kept_groups(round_: uint256) -> uint256:
    """@notice Bitmask (bit g = group g) of the groups kept in a finalized round."""
    return self._results[round_] >> 16


@external
@view
def valid_groups(round_: uint256) -> uint256:
    """@notice Bitmask of the valid groups of a finalized round."""
    return self._results[round_] & 65535


@external
@view
def seed_commit(round_: uint256, sender: address, to: address) -> bytes32:
    """
    @notice The commitment keccak256(seed) `sender` posted in round `round_`
            for its pair seed with `to`; only the latest submission of
            `sender` is kept (zero otherwise, or if not in one group).
    """
    groups: uint256 = (self._state >> S_GROUPS) & 255
    ms: uint256 = self._m[sender]
    mt: uint256 = self._m[to]
    if groups == 0 or ms == 0 or mt == 0 or sender == to or round_ == 0:
        return empty(bytes32)
    if (ms >> M_SUBMITTED) & M32 != round_:
        return empty(bytes32)
    ps: uint256 = (ms >> M_POS) & 255
    pt: uint256 = (mt >> M_POS) & 255
    if ps % groups != pt % groups:
        return empty(bytes32)
    return self._commit[sender][pt // groups]
