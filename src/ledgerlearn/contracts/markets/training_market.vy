# pragma version ~=0.4.3
# pragma evm-version cancun
"""
@title Ownership-preserving training market
@notice The place of record for a market of data owners (DOs), cloud owners
        (COs) and model owners (MOs), after "Ownership preserving AI Market
        Places using Blockchain" (IBM Research, 2019). Data and models never
        come here: only hashes, nonces, statuses and encrypted pointers, all
        under pseudonymous addresses. Records are keyed by ids their
        creators choose (bytes32), like the paper's chaincode keys, so a
        client can send a whole flow without waiting for ids.
        Data: a DO registers a dataset split into `m` subsets replicated
        `n` times (instance `i` holds subset `i // n`). A CO `claim`s an
        instance with its X25519 key, the DO `deliver`s an encrypted pointer
        to the subset (encrypted to that key), the CO `join`s with
        commitment = keccak256(keccak256(subset) || nonce) and its nonce, and
        the DO `verify`s it (only the DO can).
        Training: an MO registers a model and requests a train couple (model
        x dataset), paying the escrow; the DO approves it, which creates one
        train job per verified instance. Each round, the MO reveals the next
        value of its hash chain (`start_round`) and then the DO reveals the
        next value of its own (`draw_round`): the round's subsets are drawn
        from keccak256 of both, so neither can steer the draw (each chain
        was committed before the other's values were known) and the MO
        cannot predict it; no block data is used, so block producers have no
        say. Subsets are drawn without replacement within an epoch, so every
        subset trains once per ceil(m / picks) rounds. Every replica of a
        drawn subset trains and posts commitment = keccak256(keccak256(model)
        || nonce), its nonce and a pointer encrypted to the MO. Settling a
        subset takes the digest keccak256(model) that a strict majority of
        its n replicas committed to (checked here, against every
        commitment): the matching jobs are PASSED and paid, the others
        FRAUD (dummy model, copied hash) or MISSING, and nothing is paid
        for them. Anyone may settle, so an MO cannot withhold payment from
        an honest majority; a subset with no majority is closed unpaid
        after a second timeout.
        Nonces are bound to their sender (the top 20 bytes are its address)
        and used once, so no one can reuse another member's commitment.
        Money: the MO pays licence_fee + job_price * n * picks * rounds
        when it requests the couple. Each closed round pays the DO its share
        of the licence fee and each PASSED job its price; what is left goes
        back to the MO when the couple completes or is cancelled.
        Invariant, after every transaction:
          self.balance == sum of escrow over couples + sum of owed
"""

# ------------------------------------------------------------- constants

CAP_SUBSETS: constant(uint256) = 16
CAP_REPLICAS: constant(uint256) = 8
CAP_ROUNDS: constant(uint256) = 1000
POINTER_CAP: constant(uint256) = 160
TEXT_CAP: constant(uint256) = 512

# instance status (FREE is the zero value: registering a dataset writes no instance)
FREE: constant(uint8) = 0
CLAIMED: constant(uint8) = 1
DELIVERED: constant(uint8) = 2
JOINED: constant(uint8) = 3
VERIFIED: constant(uint8) = 4
REJECTED: constant(uint8) = 5

# couple status
REQUESTED: constant(uint8) = 1
ACTIVE: constant(uint8) = 2
COMPLETED: constant(uint8) = 3
CANCELLED: constant(uint8) = 4
DECLINED: constant(uint8) = 5

# round phase of an ACTIVE couple
IDLE: constant(uint8) = 0
DRAWING: constant(uint8) = 1
TRAINING: constant(uint8) = 2

# job result status in a round
SUBMITTED: constant(uint8) = 1
PASSED: constant(uint8) = 2
FRAUD: constant(uint8) = 3
MISSING: constant(uint8) = 4

# ------------------------------------------------------------- records

struct Dataset:
    owner: address
    m: uint8
    n: uint8
    licence_fee: uint256
    job_price: uint256
    meta_hash: bytes32

struct Instance:
    co: address
    status: uint8
    enc_key: bytes32
    commitment: bytes32
    nonce: bytes32

struct Model:
    owner: address
    model_hash: bytes32
    model_type: String[64]
    method: String[TEXT_CAP]
    pointer: Bytes[POINTER_CAP]

struct Couple:
    model_id: bytes32
    dataset_id: bytes32
    mo: address
    status: uint8
    phase: uint8
    rounds: uint16
    picks: uint8
    round: uint16
    timeout: uint64
    deadline: uint64
    remaining: uint16
    unsettled: uint256  # bitmask of the round's subsets not yet settled
    used: uint256  # bitmask of subsets used in the current epoch
    job_mask: uint256  # bitmask of instances with a train job
    escrow: uint256
    mo_chain: bytes32
    do_chain: bytes32
    mo_value: bytes32
    mo_enc_key: bytes32

struct Result:
    co: address
    status: uint8
    commitment: bytes32
    nonce: bytes32

# ------------------------------------------------------------- events

event DatasetRegistered:
    dataset_id: indexed(bytes32)
    owner: indexed(address)
    m: uint256
    n: uint256
    licence_fee: uint256
    job_price: uint256
    meta_hash: bytes32

event InstanceClaimed:
    dataset_id: indexed(bytes32)
    index: uint256
    co: indexed(address)
    enc_key: bytes32

event SubsetDelivered:
    dataset_id: indexed(bytes32)
    index: uint256
    co: indexed(address)
    sealed_pointer: Bytes[POINTER_CAP]

event InstanceJoined:
    dataset_id: indexed(bytes32)
    index: uint256
    co: indexed(address)
    commitment: bytes32
    nonce: bytes32

event InstanceVerified:
    dataset_id: indexed(bytes32)
    index: uint256
    co: indexed(address)
    ok: bool

event ModelRegistered:
    model_id: indexed(bytes32)
    owner: indexed(address)
    model_type: String[64]
    model_hash: bytes32

event CoupleRequested:
    couple_id: indexed(bytes32)
    model_id: bytes32
    dataset_id: indexed(bytes32)
    mo: address
    rounds: uint256
    picks: uint256
    escrow: uint256

event CoupleApproved:
    couple_id: indexed(bytes32)
    dataset_id: indexed(bytes32)
    job_mask: uint256

event TrainJobCreated:
    couple_id: indexed(bytes32)
    index: uint256
    co: indexed(address)

event RoundRequested:
    couple_id: indexed(bytes32)
    round: uint256
    model_hash: bytes32
    mo_value: bytes32

event RoundStarted:
    couple_id: indexed(bytes32)
    round: uint256
    subsets: uint256
    jobs: uint256
    seed: bytes32
    do_value: bytes32

event JobUpdated:
    couple_id: indexed(bytes32)
    round: uint256
    index: uint256
    co: indexed(address)
    commitment: bytes32
    nonce: bytes32
    sealed_pointer: Bytes[POINTER_CAP]

event RoundComplete:
    couple_id: indexed(bytes32)
    round: uint256

event JobSettled:
    couple_id: indexed(bytes32)
    round: uint256
    index: uint256
    co: indexed(address)
    status: uint8
    paid: uint256

event SubsetSettled:
    couple_id: indexed(bytes32)
    round: uint256
    subset: uint256
    digest: bytes32
    agreeing: uint256

event RoundClosed:
    couple_id: indexed(bytes32)
    round: uint256
    licence_paid: uint256

event CoupleClosed:
    couple_id: indexed(bytes32)
    status: uint8
    refund: uint256

event Withdrawal:
    member: indexed(address)
    to: address
    amount: uint256

# ------------------------------------------------------------- state

datasets: public(HashMap[bytes32, Dataset])
instances: public(HashMap[bytes32, HashMap[uint256, Instance]])
models: public(HashMap[bytes32, Model])
couples: public(HashMap[bytes32, Couple])
# couple -> round -> bitmask of the subsets drawn
round_subsets: public(HashMap[bytes32, HashMap[uint256, uint256]])
# keccak256(couple, round, instance) -> what the job posted and how it was judged
results: HashMap[bytes32, Result]
nonce_used: public(HashMap[bytes32, bool])
owed: public(HashMap[address, uint256])


# ------------------------------------------------------------- data

@external
def register_dataset(dataset_id: bytes32, m: uint256, n: uint256, licence_fee: uint256,
                     job_price: uint256, meta_hash: bytes32):
    """
    @notice Register a dataset split into `m` subsets, each replicated to `n`
            cloud instances (instance i holds subset i // n). The sender is
            the data owner's pseudonym.
    """
    assert dataset_id != empty(bytes32), "register_dataset: empty id"
    assert self.datasets[dataset_id].owner == empty(address), "register_dataset: id taken"
    assert m >= 1 and m <= CAP_SUBSETS, "register_dataset: m out of range"
    assert n >= 1 and n <= CAP_REPLICAS, "register_dataset: n out of range"
    self.datasets[dataset_id] = Dataset(
        owner=msg.sender, m=convert(m, uint8), n=convert(n, uint8),
        licence_fee=licence_fee, job_price=job_price, meta_hash=meta_hash)
    log DatasetRegistered(dataset_id=dataset_id, owner=msg.sender, m=m, n=n,
                          licence_fee=licence_fee, job_price=job_price, meta_hash=meta_hash)


@internal
@view
def _dataset(dataset_id: bytes32) -> Dataset:
    d: Dataset = self.datasets[dataset_id]
    assert d.owner != empty(address), "unknown dataset"
    return d


@internal
@view
def _instance_index(d: Dataset, index: uint256) -> uint256:
    assert index < convert(d.m, uint256) * convert(d.n, uint256), "instance out of range"
    return index


@external
def claim(dataset_id: bytes32, index: uint256, enc_key: bytes32):
    """
    @notice A cloud owner claims a free instance of a dataset and publishes
            the X25519 key the subset will be encrypted to. One pseudonym
            holds at most one replica of a subset.
    """
    d: Dataset = self._dataset(dataset_id)
    self._instance_index(d, index)
    assert enc_key != empty(bytes32), "claim: empty key"
    assert msg.sender != d.owner, "claim: the data owner cannot host its own data"
    assert self.instances[dataset_id][index].status == FREE and \
        self.instances[dataset_id][index].co == empty(address), "claim: instance taken"
    n: uint256 = convert(d.n, uint256)
    first: uint256 = index // n * n
    for r: uint256 in range(CAP_REPLICAS):
        if r >= n:
            break
        assert self.instances[dataset_id][first + r].co != msg.sender, "claim: already a replica of this subset"
    self.instances[dataset_id][index] = Instance(
        co=msg.sender, status=CLAIMED, enc_key=enc_key,
        commitment=empty(bytes32), nonce=empty(bytes32))
    log InstanceClaimed(dataset_id=dataset_id, index=index, co=msg.sender, enc_key=enc_key)


@external
def deliver(dataset_id: bytes32, index: uint256, sealed_pointer: Bytes[POINTER_CAP]):
    """
    @notice The data owner records that it sent the subset: the pointer to
            it in the blob store, encrypted to the instance's key.
    """
    d: Dataset = self._dataset(dataset_id)
    self._instance_index(d, index)
    assert msg.sender == d.owner, "deliver: only the data owner"
    inst: Instance = self.instances[dataset_id][index]
    assert inst.status == CLAIMED, "deliver: instance not claimed"
    assert len(sealed_pointer) > 0, "deliver: empty pointer"
    self.instances[dataset_id][index].status = DELIVERED
    log SubsetDelivered(dataset_id=dataset_id, index=index, co=inst.co, sealed_pointer=sealed_pointer)


@internal
def _use_nonce(nonce: bytes32):
    # bound to the sender: a copied (commitment, nonce) pair is refused here,
    # and a copied commitment with the copier's own nonce fails its check
    assert convert(convert(nonce, uint256) >> 96, uint160) == convert(msg.sender, uint160), \
        "nonce not bound to sender"
    assert not self.nonce_used[nonce], "nonce already used"
    self.nonce_used[nonce] = True


@external
def join(dataset_id: bytes32, index: uint256, commitment: bytes32, nonce: bytes32):
    """
    @notice The cloud owner commits to the subset it received:
            commitment = keccak256(keccak256(subset) || nonce).
    """
    d: Dataset = self._dataset(dataset_id)
    self._instance_index(d, index)
    inst: Instance = self.instances[dataset_id][index]
    assert msg.sender == inst.co, "join: not the instance's cloud owner"
    assert inst.status == DELIVERED, "join: subset not delivered"
    assert commitment != empty(bytes32), "join: empty commitment"
    self._use_nonce(nonce)
    self.instances[dataset_id][index].status = JOINED
    self.instances[dataset_id][index].commitment = commitment
    self.instances[dataset_id][index].nonce = nonce
    log InstanceJoined(dataset_id=dataset_id, index=index, co=msg.sender, commitment=commitment, nonce=nonce)


@external
def verify(dataset_id: bytes32, index: uint256, ok: bool):
    """
    @notice The data owner, having recomputed the commitment from the subset
            it sent and the published nonce, accepts or rejects the instance.
    """
    d: Dataset = self._dataset(dataset_id)
    self._instance_index(d, index)
    assert msg.sender == d.owner, "verify: only the data owner"
    inst: Instance = self.instances[dataset_id][index]
    assert inst.status == JOINED, "verify: instance has not joined"
    self.instances[dataset_id][index].status = VERIFIED if ok else REJECTED
    log InstanceVerified(dataset_id=dataset_id, index=index, co=inst.co, ok=ok)


# ------------------------------------------------------------- models and couples

@external
def register_model(model_id: bytes32, model_type: String[64], method: String[TEXT_CAP],
                   model_hash: bytes32, pointer: Bytes[POINTER_CAP]):
    """
    @notice Register a model record: type, training method, hash of the
            initial model and an (encrypted) pointer to it.
    """
    assert model_id != empty(bytes32), "register_model: empty id"
    assert self.models[model_id].owner == empty(address), "register_model: id taken"
    assert len(model_type) > 0, "register_model: empty model type"
    self.models[model_id] = Model(owner=msg.sender, model_hash=model_hash, model_type=model_type,
                                  method=method, pointer=pointer)
    log ModelRegistered(model_id=model_id, owner=msg.sender, model_type=model_type, model_hash=model_hash)


@view
@external
def couple_price(dataset_id: bytes32, rounds: uint256, picks: uint256) -> uint256:
    """
    @notice The escrow `request_couple` takes for this many rounds of `picks` subsets.
    """
    d: Dataset = self._dataset(dataset_id)
    return d.licence_fee + d.job_price * convert(d.n, uint256) * picks * rounds


@payable
@external
def request_couple(couple_id: bytes32, model_id: bytes32, dataset_id: bytes32, rounds: uint256,
                   picks: uint256, timeout: uint256, mo_chain: bytes32, mo_enc_key: bytes32):
    """
    @notice Ask to train `model_id` on `dataset_id` for `rounds` rounds of
            `picks` subsets each, paying the escrow (`couple_price`) now.
            `mo_chain` is the head keccak256^rounds(secret) of the MO's hash
            chain, `mo_enc_key` the X25519 key results are encrypted to,
            `timeout` the seconds each round phase may take.
    """
    assert couple_id != empty(bytes32), "request_couple: empty id"
    assert self.couples[couple_id].mo == empty(address), "request_couple: id taken"
    assert self.models[model_id].owner == msg.sender, "request_couple: not the model's owner"
    d: Dataset = self._dataset(dataset_id)
    assert rounds >= 1 and rounds <= CAP_ROUNDS, "request_couple: rounds out of range"
    assert picks >= 1 and picks <= convert(d.m, uint256), "request_couple: picks out of range"
    assert timeout >= 1 and timeout <= 30 * 86400, "request_couple: timeout out of range"
    assert mo_chain != empty(bytes32), "request_couple: empty hash chain"
    assert mo_enc_key != empty(bytes32), "request_couple: empty key"
    price: uint256 = d.licence_fee + d.job_price * convert(d.n, uint256) * picks * rounds
    assert msg.value == price, "request_couple: value must equal couple_price"
    self.couples[couple_id] = Couple(
        model_id=model_id, dataset_id=dataset_id, mo=msg.sender, status=REQUESTED, phase=IDLE,
        rounds=convert(rounds, uint16), picks=convert(picks, uint8), round=0,
        timeout=convert(timeout, uint64), deadline=0, remaining=0, unsettled=0, used=0,
        job_mask=0, escrow=msg.value, mo_chain=mo_chain, do_chain=empty(bytes32),
        mo_value=empty(bytes32), mo_enc_key=mo_enc_key)
    log CoupleRequested(couple_id=couple_id, model_id=model_id, dataset_id=dataset_id, mo=msg.sender,
                        rounds=rounds, picks=picks, escrow=msg.value)


@external
def approve_couple(couple_id: bytes32, do_chain: bytes32):
    """
    @notice The data owner approves a requested couple, committing to the
            head of its own hash chain; one train job is created per verified
            instance of the dataset.
    """
    c: Couple = self.couples[couple_id]
    assert c.status == REQUESTED, "approve_couple: not requested"
    d: Dataset = self.datasets[c.dataset_id]
    assert msg.sender == d.owner, "approve_couple: only the data owner"
    assert do_chain != empty(bytes32), "approve_couple: empty hash chain"
    total: uint256 = convert(d.m, uint256) * convert(d.n, uint256)
    mask: uint256 = 0
    for i: uint256 in range(CAP_SUBSETS * CAP_REPLICAS):
        if i >= total:
            break
        inst: Instance = self.instances[c.dataset_id][i]
        if inst.status == VERIFIED:
            mask |= 1 << i
            log TrainJobCreated(couple_id=couple_id, index=i, co=inst.co)
    assert mask != 0, "approve_couple: no verified instance"
    self.couples[couple_id].status = ACTIVE
    self.couples[couple_id].job_mask = mask
    self.couples[couple_id].do_chain = do_chain
    log CoupleApproved(couple_id=couple_id, dataset_id=c.dataset_id, job_mask=mask)


@external
def decline_couple(couple_id: bytes32):
    """
    @notice The data owner declines a requested couple; the MO gets its escrow back.
    """
    c: Couple = self.couples[couple_id]
    assert c.status == REQUESTED, "decline_couple: not requested"
    assert msg.sender == self.datasets[c.dataset_id].owner, "decline_couple: only the data owner"
    self._close(couple_id, c, DECLINED)


@external
def cancel_couple(couple_id: bytes32):
    """
    @notice The MO takes its escrow back from a couple that was never
            approved, or whose data owner missed a draw deadline.
    """
    c: Couple = self.couples[couple_id]
    assert msg.sender == c.mo, "cancel_couple: only the model owner"
    if c.status == ACTIVE:
        assert c.phase == DRAWING and block.timestamp > convert(c.deadline, uint256), \
            "cancel_couple: the data owner is not late"
    else:
        assert c.status == REQUESTED, "cancel_couple: couple is closed"
    self._close(couple_id, c, CANCELLED)


@internal
def _close(couple_id: bytes32, c: Couple, status: uint8):
    self.couples[couple_id].status = status
    self.couples[couple_id].phase = IDLE
    self.couples[couple_id].escrow = 0
    self.owed[c.mo] += c.escrow
    log CoupleClosed(couple_id=couple_id, status=status, refund=c.escrow)


# ------------------------------------------------------------- rounds

@external
def start_round(couple_id: bytes32, mo_value: bytes32, model_hash: bytes32):
    """
    @notice The MO asks for the next round: it reveals the next value of its
            hash chain (keccak256(mo_value) must equal the last one) and the
            hash of the global model the round trains.
    """
    c: Couple = self.couples[couple_id]
    assert msg.sender == c.mo, "start_round: only the model owner"
    assert c.status == ACTIVE, "start_round: couple not active"
    assert c.phase == IDLE, "start_round: a round is in progress"
    assert keccak256(mo_value) == c.mo_chain, "start_round: value does not extend the hash chain"
    rnd: uint16 = c.round + 1
    self.couples[couple_id].round = rnd
    self.couples[couple_id].phase = DRAWING
    self.couples[couple_id].mo_chain = mo_value
    self.couples[couple_id].mo_value = mo_value
    self.couples[couple_id].deadline = convert(block.timestamp, uint64) + c.timeout
    log RoundRequested(couple_id=couple_id, round=convert(rnd, uint256), model_hash=model_hash, mo_value=mo_value)


@internal
@pure
def _nth_bit(mask: uint256, k: uint256) -> uint256:
    # index of the k-th (0-based) set bit of mask
    seen: uint256 = 0
    for i: uint256 in range(CAP_SUBSETS):
        if mask & (1 << i) != 0:
            if seen == k:
                return i
            seen += 1
    raise "bit out of range"


@internal
@pure
def _popcount(mask: uint256) -> uint256:
    count: uint256 = 0
    for i: uint256 in range(CAP_SUBSETS * CAP_REPLICAS):
        if mask >> i == 0:
            break
        count += (mask >> i) & 1
    return count


@internal
@pure
def _draw(seed: bytes32, picks: uint256, m: uint256, used: uint256) -> (uint256, uint256):
    # picks subsets without replacement from those unused in this epoch; when
    # fewer are left, all of them plus a draw from a fresh epoch
    full: uint256 = (1 << m) - 1
    pool: uint256 = full & ~used
    chosen: uint256 = 0
    new_used: uint256 = used
    for j: uint256 in range(CAP_SUBSETS):
        if j >= picks:
            break
        if pool == 0:
            pool = full & ~chosen
            new_used = 0
        size: uint256 = self._popcount(pool)
        k: uint256 = convert(keccak256(concat(seed, convert(j, bytes32))), uint256) % size
        bit: uint256 = 1 << self._nth_bit(pool, k)
        chosen |= bit
        pool &= ~bit
        new_used |= bit
    if new_used == full:
        new_used = 0
    return chosen, new_used


@external
def draw_round(couple_id: bytes32, do_value: bytes32):
    """
    @notice The data owner reveals the next value of its hash chain; the
            round's subsets are drawn from keccak256(couple, round, MO value,
            DO value) and the round's train jobs start.
    """
    c: Couple = self.couples[couple_id]
    d: Dataset = self.datasets[c.dataset_id]
    assert msg.sender == d.owner, "draw_round: only the data owner"
    assert c.status == ACTIVE and c.phase == DRAWING, "draw_round: no round awaiting a draw"
    assert keccak256(do_value) == c.do_chain, "draw_round: value does not extend the hash chain"
    assert block.timestamp <= convert(c.deadline, uint256), "draw_round: deadline passed"
    rnd: uint256 = convert(c.round, uint256)
    seed: bytes32 = keccak256(concat(couple_id, convert(rnd, bytes32), c.mo_value, do_value))
    chosen: uint256 = 0
    used: uint256 = 0
    chosen, used = self._draw(seed, convert(c.picks, uint256), convert(d.m, uint256), c.used)
    n: uint256 = convert(d.n, uint256)
    jobs: uint256 = 0
    for s: uint256 in range(CAP_SUBSETS):
        if chosen & (1 << s) != 0:
            jobs += self._popcount((c.job_mask >> (s * n)) & ((1 << n) - 1))
    self.round_subsets[couple_id][rnd] = chosen
    self.couples[couple_id].do_chain = do_value
    self.couples[couple_id].used = used
    self.couples[couple_id].unsettled = chosen
    self.couples[couple_id].remaining = convert(jobs, uint16)
    self.couples[couple_id].phase = TRAINING
    self.couples[couple_id].deadline = convert(block.timestamp, uint64) + c.timeout
    log RoundStarted(couple_id=couple_id, round=rnd, subsets=chosen, jobs=jobs, seed=seed, do_value=do_value)
    if jobs == 0:
        log RoundComplete(couple_id=couple_id, round=rnd)


@internal
@pure
def _result_key(couple_id: bytes32, rnd: uint256, index: uint256) -> bytes32:
    return keccak256(concat(couple_id, convert(rnd, bytes32), convert(index, bytes32)))


@external
def update_job(couple_id: bytes32, index: uint256, commitment: bytes32, nonce: bytes32,
               sealed_pointer: Bytes[POINTER_CAP]):
    """
    @notice A cloud owner posts its trained model for this round:
            commitment = keccak256(keccak256(model) || nonce), its nonce and
            the model's pointer encrypted to the MO.
    """
    c: Couple = self.couples[couple_id]
    assert c.status == ACTIVE and c.phase == TRAINING, "update_job: no round in training"
    assert block.timestamp <= convert(c.deadline, uint256), "update_job: deadline passed"
    assert index < CAP_SUBSETS * CAP_REPLICAS and c.job_mask & (1 << index) != 0, "update_job: no such job"
    assert msg.sender == self.instances[c.dataset_id][index].co, "update_job: not the job's cloud owner"
    n: uint256 = convert(self.datasets[c.dataset_id].n, uint256)
    assert self.round_subsets[couple_id][convert(c.round, uint256)] & (1 << (index // n)) != 0, \
        "update_job: subset not drawn this round"
    assert commitment != empty(bytes32), "update_job: empty commitment"
    assert len(sealed_pointer) > 0, "update_job: empty pointer"
    rnd: uint256 = convert(c.round, uint256)
    key: bytes32 = self._result_key(couple_id, rnd, index)
    assert self.results[key].status == 0, "update_job: already updated this round"
    self._use_nonce(nonce)
    self.results[key] = Result(co=msg.sender, status=SUBMITTED, commitment=commitment, nonce=nonce)
    log JobUpdated(couple_id=couple_id, round=rnd, index=index, co=msg.sender, commitment=commitment,
                   nonce=nonce, sealed_pointer=sealed_pointer)
    self.couples[couple_id].remaining = c.remaining - 1
    if c.remaining == 1:
        log RoundComplete(couple_id=couple_id, round=rnd)


@external
def settle(couple_id: bytes32, subset: uint256, digest: bytes32):
    """
    @notice Settle one drawn subset of the current round with the digest
            keccak256(model) of its consensus model. Anyone may call, once
            every job has updated or the round's deadline has passed. The
            digest must match the commitments of a strict majority of the
            subset's n replicas; those jobs are PASSED and paid, the others
            FRAUD (posted something else) or MISSING (posted nothing). An
            empty digest declares no consensus and is only accepted once a
            second timeout has passed, so an honest majority can always
            settle first. Settling the last subset closes the round.
    """
    c: Couple = self.couples[couple_id]
    assert c.status == ACTIVE and c.phase == TRAINING, "settle: no round in training"
    assert subset < CAP_SUBSETS and c.unsettled & (1 << subset) != 0, "settle: subset not awaiting settlement"
    now: uint256 = block.timestamp
    assert c.remaining == 0 or now > convert(c.deadline, uint256), "settle: jobs still training"
    d: Dataset = self.datasets[c.dataset_id]
    n: uint256 = convert(d.n, uint256)
    rnd: uint256 = convert(c.round, uint256)
    if digest == empty(bytes32):
        assert now > convert(c.deadline + c.timeout, uint256), "settle: no-consensus only after the dispute timeout"
    agreeing: uint256 = 0
    paid_total: uint256 = 0
    for r: uint256 in range(CAP_REPLICAS):
        if r >= n:
            break
        index: uint256 = subset * n + r
        if c.job_mask & (1 << index) == 0:
            continue
        key: bytes32 = self._result_key(couple_id, rnd, index)
        res: Result = self.results[key]
        status: uint8 = MISSING
        if res.status == SUBMITTED:
            status = FRAUD
            if digest != empty(bytes32) and keccak256(concat(digest, res.nonce)) == res.commitment:
                status = PASSED
                agreeing += 1
        self.results[key].status = status
        co: address = self.instances[c.dataset_id][index].co
        paid: uint256 = 0
        if status == PASSED:
            paid = d.job_price
            self.owed[co] += paid
            paid_total += paid
        log JobSettled(couple_id=couple_id, round=rnd, index=index, co=co, status=status, paid=paid)
    if digest != empty(bytes32):
        assert agreeing * 2 > n, "settle: digest has no majority of replicas"
    escrow: uint256 = c.escrow - paid_total
    unsettled: uint256 = c.unsettled & ~(1 << subset)
    log SubsetSettled(couple_id=couple_id, round=rnd, subset=subset, digest=digest, agreeing=agreeing)
    if unsettled == 0:
        # the data owner's share of the licence fee for this round
        share: uint256 = d.licence_fee // convert(c.rounds, uint256)
        if rnd == convert(c.rounds, uint256):
            share = d.licence_fee - share * (rnd - 1)
        self.owed[d.owner] += share
        escrow -= share
        log RoundClosed(couple_id=couple_id, round=rnd, licence_paid=share)
        self.couples[couple_id].phase = IDLE
        if rnd == convert(c.rounds, uint256):
            self.couples[couple_id].status = COMPLETED
            self.owed[c.mo] += escrow
            log CoupleClosed(couple_id=couple_id, status=COMPLETED, refund=escrow)
            escrow = 0
    self.couples[couple_id].unsettled = unsettled
    self.couples[couple_id].escrow = escrow


@view
@external
def result(couple_id: bytes32, rnd: uint256, index: uint256) -> Result:
    """
    @notice What instance `index` posted in round `rnd` of a couple, and the verdict.
    """
    return self.results[self._result_key(couple_id, rnd, index)]


# ------------------------------------------------------------- money

@external
@nonreentrant
def withdraw(to: address) -> uint256:
    """
    @notice Send everything owed to the sender (a pseudonym) to `to`.
    """
    assert to != empty(address), "withdraw: empty recipient"
    amount: uint256 = self.owed[msg.sender]
    assert amount > 0, "withdraw: nothing to withdraw"
    self.owed[msg.sender] = 0
    send(to, amount)
    log Withdrawal(member=msg.sender, to=to, amount=amount)
    return amount
