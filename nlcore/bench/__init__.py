"""``nlcore bench``: the benchmark job (:mod:`.job`), its methods (:mod:`.methods`) and the
wire-level rows (:mod:`.wire`). Not part of the core: a vendored copy may delete this folder.
"""
