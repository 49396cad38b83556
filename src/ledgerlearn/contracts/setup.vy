# pragma version ~=0.4.3
"""
@title Owner and setup phase of a shared model
@notice Parameters are loaded in chunks by the owner while the contract is in
        its setup phase; `finalize` ends it irreversibly. Model and incentive
        modules `uses:` this module to guard their loaders.
"""

event Finalized:
    owner: indexed(address)


owner: public(address)
finalized: public(bool)


@internal
def _init(owner: address):
    assert owner != empty(address), "setup: owner is the zero address"
    assert self.owner == empty(address), "setup: already initialized"
    self.owner = owner


@internal
@view
def _check_setup():
    assert msg.sender == self.owner, "setup: only the owner"
    assert not self.finalized, "setup: already finalized"


@internal
@view
def _check_live():
    assert self.finalized, "setup: model is not finalized"


@external
def finalize():
    """
    @notice End the setup phase. Irreversible: loaders are refused afterwards.
    """
    self._check_setup()
    self.finalized = True
    log Finalized(owner=msg.sender)
