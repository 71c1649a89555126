"""consent.merkle against the RFC 6962/9162 reference vectors (the Certificate Transparency test data also
published by transparency-dev/merkle), against the RFC's recursive definitions written out independently here,
and as properties: every proof of a growing log verifies, and no removal, reordering or edit keeps it consistent."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from consent import merkle

DATA = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                    "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
LEAVES = [merkle.leaf_hash(d) for d in DATA]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = {
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip
CONSISTENCY = {
    (2, 8): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}  # fmt: skip


# --- the RFC's definitions, written out recursively and independently of consent.merkle -------------------------


def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof_from_ranges(ranges: list[tuple[int, int]], leaves: list[bytes]) -> list[bytes]:
    nodes = merkle.perfect_nodes_of(leaves)
    return [merkle.range_hash(start, end, nodes) for start, end in ranges]


# --- reference vectors -------------------------------------------------------------------------------------------


def test_roots_match_the_reference_for_every_size() -> None:
    for size in range(len(LEAVES) + 1):
        assert merkle.root_of(LEAVES[:size]).hex() == ROOTS[size]
        assert merkle.range_hash(0, size, merkle.perfect_nodes_of(LEAVES)).hex() == ROOTS[size]


def test_inclusion_proofs_match_the_reference_and_verify() -> None:
    for (index, size), expected in INCLUSION.items():
        proof = proof_from_ranges(merkle.inclusion_ranges(index, size), LEAVES[:size])
        assert [p.hex() for p in proof] == expected
        root = bytes.fromhex(ROOTS[size])
        assert merkle.verify_inclusion(LEAVES[index], index, size, proof, root)


def test_consistency_proofs_match_the_reference_and_verify() -> None:
    for (old, new), expected in CONSISTENCY.items():
        proof = proof_from_ranges(merkle.consistency_ranges(old, new), LEAVES[:new])
        assert [p.hex() for p in proof] == expected
        assert merkle.verify_consistency(old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), proof)


def test_degenerate_cases() -> None:
    root4, root5 = bytes.fromhex(ROOTS[4]), bytes.fromhex(ROOTS[5])
    assert merkle.verify_consistency(4, 4, root4, root4, [])
    assert not merkle.verify_consistency(4, 4, root4, root5, [])
    assert not merkle.verify_consistency(4, 5, root4, root5, [])  # an empty proof proves no growth
    assert not merkle.verify_consistency(5, 4, root5, root4, [])
    assert not merkle.verify_inclusion(LEAVES[0], 8, 8, [], bytes.fromhex(ROOTS[8]))
    assert merkle.verify_inclusion(LEAVES[0], 0, 1, [], bytes.fromhex(ROOTS[1]))
    for bad in ((8, 8), (-1, 8), (0, 0)):
        try:
            merkle.inclusion_ranges(*bad)
        except merkle.ProofError:
            continue
        raise AssertionError(f"inclusion_ranges{bad} accepted")
    for bad in ((5, 3), (0, 8)):
        try:
            merkle.consistency_ranges(*bad)
        except merkle.ProofError:
            continue
        raise AssertionError(f"consistency_ranges{bad} accepted")


# --- against the recursive definitions, every shape up to 70 leaves -------------------------------------------------


def test_every_proof_equals_the_rfc_definition_up_to_70_leaves() -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(2, "big")) for i in range(70)]
    nodes = merkle.perfect_nodes_of(leaves)
    for size in range(1, len(leaves) + 1):
        tree = leaves[:size]
        root = mth(tree)
        assert merkle.root_of(tree) == root == merkle.range_hash(0, size, nodes)
        for index in range(size):
            proof = [merkle.range_hash(a, b, nodes) for a, b in merkle.inclusion_ranges(index, size)]
            assert proof == path(index, tree)
            assert merkle.verify_inclusion(tree[index], index, size, proof, root)
        for old in range(1, size + 1):
            proof = [merkle.range_hash(a, b, nodes) for a, b in merkle.consistency_ranges(old, size)]
            assert proof == subproof(old, tree, True)
            assert merkle.verify_consistency(old, size, mth(leaves[:old]), root, proof)


def test_nodes_built_by_appending_equal_the_whole_tree_nodes() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(100)]
    stored: dict[merkle.NodeKey, bytes] = {}
    for start, end in ((0, 1), (1, 2), (2, 7), (7, 8), (8, 50), (50, 64), (64, 100)):
        stored.update(merkle.new_perfect_nodes(start, leaves[start:end], stored.__getitem__))
    assert stored == merkle.perfect_nodes_of(leaves)


# --- properties ----------------------------------------------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), new=sizes)
def test_any_two_checkpoints_of_a_growing_log_are_consistent(data: st.DataObject, new: int) -> None:
    old = data.draw(st.integers(min_value=1, max_value=new))
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(new)]
    nodes = merkle.perfect_nodes_of(leaves)
    proof = [merkle.range_hash(a, b, nodes) for a, b in merkle.consistency_ranges(old, new)]
    assert merkle.verify_consistency(old, new, merkle.root_of(leaves[:old]), merkle.root_of(leaves), proof)
    index = data.draw(st.integers(min_value=0, max_value=new - 1))
    inclusion = [merkle.range_hash(a, b, nodes) for a, b in merkle.inclusion_ranges(index, new)]
    assert merkle.verify_inclusion(leaves[index], index, new, inclusion, merkle.root_of(leaves))


@settings(max_examples=200, deadline=None)
@given(data=st.data(), new=st.integers(min_value=2, max_value=300))
def test_a_removal_reordering_or_edit_breaks_consistency(data: st.DataObject, new: int) -> None:
    """The operator rewrites history between two checkpoints: the new tree's consistency proof, however made,
    does not verify against the old root."""
    old = data.draw(st.integers(min_value=1, max_value=new - 1))
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(new)]
    old_root = merkle.root_of(leaves[:old])
    position = data.draw(st.integers(min_value=0, max_value=old - 1))
    kind = data.draw(st.sampled_from(["remove", "swap", "edit"]))
    rewritten = list(leaves)
    if kind == "remove":
        del rewritten[position]
        rewritten.append(merkle.leaf_hash(b"padding"))  # the same size again
    elif kind == "swap":
        other = data.draw(st.integers(min_value=0, max_value=new - 1).filter(lambda i: i != position))
        rewritten[position], rewritten[other] = rewritten[other], rewritten[position]
    else:
        rewritten[position] = merkle.leaf_hash(b"edited")
    nodes = merkle.perfect_nodes_of(rewritten)
    proof = [merkle.range_hash(a, b, nodes) for a, b in merkle.consistency_ranges(old, new)]
    assert not merkle.verify_consistency(old, new, old_root, merkle.root_of(rewritten), proof)
