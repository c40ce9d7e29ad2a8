"""Sequences of specs built on demand, over packed requests a bulk input holds.

:class:`~nlcore.codec.bulk.AddrBulk` (a column of addresses, or a range) and
:class:`~nlcore.codec.bulk_batch.WindowSpecs` (the good lines of a batch window) both hold
``records`` that ``apply()`` sends as a whole, and build item ``i`` as an AddrSpec only when
asked for (the engine does that for failures only);
:class:`~nlcore.codec.route_bulk.RouteBulk` does the same with route messages. The indexing
is here, once (:class:`LazySpecs`); each says how long it is and how its item is built.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Iterator, Sequence, TypeVar, overload

from ._pure_addr import ADDR_REC
from .spec import AddrSpec

SIZE = ADDR_REC.size
T = TypeVar("T")


class LazySpecs(Sequence[T]):
    """Items built through :meth:`spec`: indexing (negative and slices too; IndexError past
    the end, naming the class) and iteration; subclasses give ``__len__`` and ``spec``."""

    @abstractmethod
    def spec(self, i: int) -> T:
        """Item ``i`` (``0 <= i < len(self)``)."""

    @abstractmethod
    def __len__(self) -> int: ...

    @overload
    def __getitem__(self, i: int) -> T: ...
    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.spec(position(i, len(self), type(self).__name__))

    def __iter__(self) -> Iterator[T]:
        return (self[i] for i in range(len(self)))


class RecordSpecs(LazySpecs[AddrSpec]):
    """``records`` (packed, :data:`SIZE` bytes each) as AddrSpecs."""

    kind = "addr"
    records: bytes

    def __len__(self) -> int:
        return len(self.records) // SIZE


def position(i: int, n: int, owner: str) -> int:
    """Index ``i`` of a sequence of ``n`` items as 0..n-1 (a negative one counts from the
    end); IndexError naming ``owner`` past either end, as a list raises it."""
    j = i + n if i < 0 else i
    if not 0 <= j < n:
        raise IndexError(f"{owner} index {i} out of range (length {n})")
    return j


__all__ = ["SIZE", "LazySpecs", "RecordSpecs", "position"]
