# pragma version ~=0.4.3
"""
@title Shared-model factory (EIP-1167 clones)
@notice Creates shared models as minimal proxies of a per-chain
        implementation (one per model kind and incentive) and initialises each
        clone in the same transaction, so nobody can front-run its
        initialisation. Implementations are registered by code hash so that
        clients find them on any chain without trusting who deployed them.
"""

event ModelCreated:
    implementation: indexed(address)
    model: indexed(address)
    creator: indexed(address)


event ImplementationRegistered:
    codehash: indexed(bytes32)
    implementation: indexed(address)


#: Largest `initialize` calldata accepted (selector and ABI-encoded arguments).
MAX_INIT_CALLDATA: constant(uint256) = 16384
VERSION: constant(String[16]) = "ledgerlearn-1"

#: implementation address by the keccak256 of its runtime code
implementation_of: public(HashMap[bytes32, address])


@external
@view
def version() -> String[16]:
    """
    @notice Factory version tag (lets clients recognise a factory).
    """
    return VERSION


@external
def register(implementation: address):
    """
    @notice Record `implementation` under its code hash (first one wins).
            Permissionless: the code hash is what clients look up, so a
            registration can only ever point at exactly that code.
    """
    assert implementation.is_contract, "factory: implementation has no code"
    codehash: bytes32 = implementation.codehash
    assert self.implementation_of[codehash] == empty(address), "factory: already registered"
    self.implementation_of[codehash] = implementation
    log ImplementationRegistered(codehash=codehash, implementation=implementation)


@external
def create(implementation: address, init_calldata: Bytes[MAX_INIT_CALLDATA]) -> address:
    """
    @notice Clone `implementation` and call it with `init_calldata` (an
            `initialize(...)` call) in the same transaction. A failing
            initialisation reverts the whole creation with its reason.
    @return The new model's address.
    """
    assert implementation.is_contract, "factory: implementation has no code"
    model: address = create_minimal_proxy_to(implementation)
    raw_call(model, init_calldata)
    log ModelCreated(implementation=implementation, model=model, creator=msg.sender)
    return model
