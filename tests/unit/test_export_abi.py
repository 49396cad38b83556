"""export-abi: JSON ABIs, bytecode and one TypeScript file for every entry contract and the factory."""

from __future__ import annotations

import json
import re

from ledgerlearn.contracts import registry
from ledgerlearn.contracts.export import TS_FILE, export_abi

NAMES = [registry.entry_name(k, i) for k, i in registry.entries()] + ["Factory"]


def test_export_writes_every_contract(tmp_path):
    written = export_abi(tmp_path / "abi")
    out = tmp_path / "abi"
    assert len(NAMES) == 11
    assert {p.name for p in written} == {f.name for f in out.iterdir()}
    for (kind, inc), name in zip(registry.entries(), NAMES):
        art = registry.entry_artifact(kind, inc)
        assert json.loads((out / f"{name}.abi.json").read_text()) == art.abi
        assert bytes.fromhex((out / f"{name}.bin").read_text().strip()) == art.bytecode
        assert (out / f"{name}.vy").read_text() == registry.entry_source(kind, inc)
    fac = registry.factory_artifact()
    assert json.loads((out / "Factory.abi.json").read_text()) == fac.abi
    assert bytes.fromhex((out / "Factory.bin").read_text().strip()) == fac.bytecode


def test_typescript_module(tmp_path):
    export_abi(tmp_path)
    ts = (tmp_path / TS_FILE).read_text()
    consts = re.findall(r"^export const (\w+) = ", ts, re.M)
    assert consts == [c for n in NAMES for c in (f"{n}Abi", f"{n}Bytecode")] + ["contractNames"]
    for name in NAMES:
        m = re.search(rf"^export const {name}Abi = (\[.*?\n\]) as const;$", ts, re.M | re.S)
        assert m, name
        abi = json.loads(m.group(1))  # the literal is plain JSON
        assert any(i.get("name") == ("create" if name == "Factory" else "add_data") for i in abi)
        b = re.search(rf'^export const {name}Bytecode = "0x([0-9a-f]+)" as const;$', ts, re.M)
        assert b and len(b.group(1)) % 2 == 0, name


def test_export_is_idempotent(tmp_path):
    export_abi(tmp_path)
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    export_abi(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == first
