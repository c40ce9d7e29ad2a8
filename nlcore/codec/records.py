"""A ``Sequence[AddrSpec]`` over packed ``struct nlc_addr`` records, each item built on demand.

:class:`~nlcore.codec.bulk.AddrBulk` (a column of addresses, or a range) and
:class:`~nlcore.codec.bulk_batch.WindowSpecs` (the good lines of a batch window) both hold
``records`` that ``apply()`` sends as a whole, and build item ``i`` as an AddrSpec only when
asked for (the engine does that for failures only). The indexing is here, once; each says
how its item is built (:meth:`RecordSpecs.spec`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Iterator, Sequence, overload

from ._pure_addr import ADDR_REC
from .spec import AddrSpec

SIZE = ADDR_REC.size


class RecordSpecs(Sequence[AddrSpec]):
    """``records`` (packed, :data:`SIZE` bytes each) as AddrSpecs: ``len``, indexing (negative
    and slices too; IndexError past the end) and iteration build items through :meth:`spec`."""

    kind = "addr"
    records: bytes

    @abstractmethod
    def spec(self, i: int) -> AddrSpec:
        """Item ``i`` (``0 <= i < len(self)``) as an AddrSpec."""

    def __len__(self) -> int:
        return len(self.records) // SIZE

    @overload
    def __getitem__(self, i: int) -> AddrSpec: ...
    @overload
    def __getitem__(self, i: slice) -> list[AddrSpec]: ...

    def __getitem__(self, i: int | slice) -> AddrSpec | list[AddrSpec]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.spec(position(i, len(self), type(self).__name__))

    def __iter__(self) -> Iterator[AddrSpec]:
        return (self[i] for i in range(len(self)))


def position(i: int, n: int, owner: str) -> int:
    """Index ``i`` of a sequence of ``n`` items as 0..n-1 (a negative one counts from the
    end); IndexError naming ``owner`` past either end, as a list raises it."""
    j = i + n if i < 0 else i
    if not 0 <= j < n:
        raise IndexError(f"{owner} index {i} out of range (length {n})")
    return j


__all__ = ["SIZE", "RecordSpecs", "position"]
