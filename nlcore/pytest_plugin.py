"""pytest fixtures for your own test suite (entry point ``pytest11``: ``nlcore``).

* ``nl_netns``: a :class:`~nlcore.faults.kernel.KernelLab` -- a throwaway network namespace
  (root, or unprivileged through a user namespace) with the veth pair ``v0``/``v1``; the
  device ``.dev`` is the end at ifindex 2, which is ``v1`` (the kernel registers the peer
  first), and ``.peer`` is ``v0`` (ifindex 3); a ``.conn``, and helpers ``.sysctl()``,
  ``.disable_ipv6()``, ``.set_mtu()``, ``.ip()``. The test is skipped, with the reason, when
  neither mode works.
* ``nl_faults``: build a :class:`~nlcore.faults.synthetic.FaultPlan` and get a faulty Conn
  (around a fake kernel that acks everything and describes device 2, or any transport).
* ``nl_replay``: ``nl_replay(path)`` is a Conn replaying a recording (no privileges);
  ``nl_replay.record(path, nl_netns)`` records one; ``nl_replay.trace(path, *rules)``
  replays a TRACE from ``nlcore record`` (docs/record-replay.md).

Nothing heavy is imported until a fixture is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TypeVar

import pytest

if TYPE_CHECKING:
    from .faults.kernel import KernelLab
    from .faults.synthetic import FaultPlan, Rule
    from .net.conn import Conn
    from .net.transport import Transport

SKIP_PREFIX = "nl_netns: no throwaway network namespace: "


class _Handout:
    """A helper that keeps the Conns it hands out, to close them all after the test."""

    def __init__(self) -> None:
        self._conns: list[Conn] = []

    def _keep(self, conn: Conn) -> Conn:
        self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Close every Conn handed out (flushes recordings)."""
        for c in self._conns:
            c.close()


H = TypeVar("H", bound=_Handout)


def _closing(helper: H) -> Iterator[H]:
    try:
        yield helper
    finally:
        helper.close()


@pytest.fixture
def nl_netns() -> Iterator[KernelLab]:
    """A fresh throwaway namespace with the veth pair v0/v1; ``dev`` is ``v1``, ifindex 2."""
    from .faults.kernel import KernelLab

    try:
        lab = KernelLab()
    except OSError as exc:
        pytest.skip(SKIP_PREFIX + (exc.strerror or str(exc)))
    with lab:
        yield lab


class Faults(_Handout):
    """The ``nl_faults`` helper: rules, plans and faulty Conns (closed after the test)."""

    def __init__(self) -> None:
        from .faults import synthetic

        super().__init__()

        self.synthetic = synthetic
        self.Rule = synthetic.Rule
        self.Error, self.Drop, self.Delay = synthetic.Error, synthetic.Drop, synthetic.Delay
        self.Truncate, self.Garble = synthetic.Truncate, synthetic.Garble
        self.Enobufs, self.Foreign = synthetic.Enobufs, synthetic.Foreign

    def plan(self, *rules: Rule, seed: int = 0) -> FaultPlan:
        """``FaultPlan(rules, seed=seed)``."""
        return self.synthetic.FaultPlan(rules, seed=seed)

    def kata_rule(self, **filters: Any) -> Rule:
        """The Kata EACCES for every IPv6 RTM_NEWADDR (narrow it with ``ifindex=``...)."""
        from .faults.kernel import KATA_MSG

        kw: dict[str, Any] = {"type": "RTM_NEWADDR", "family": "inet6", **filters}
        kw.setdefault("action", self.Error("EACCES", msg=KATA_MSG))
        return self.Rule(**kw)

    def conn(self, *rules: Rule, plan: FaultPlan | None = None, inner: Transport | None = None,
             seed: int = 0, **transport_options: Any) -> Conn:
        """A Conn whose transport applies ``plan`` (or ``rules``) around ``inner`` (default:
        :func:`~nlcore.faults.synthetic.fake_kernel`, which describes device 2 and acks the
        rest). ``transport_options``: ``ext_ack``/``cap_ack``, the shape of synthetic errors."""
        from .net.conn import Conn
        from .net.fake import FakeTransport

        p = plan if plan is not None else self.plan(*rules, seed=seed)
        base = inner if inner is not None else FakeTransport(self.synthetic.fake_kernel())
        return self._keep(Conn(self.synthetic.FaultyTransport(base, p, **transport_options)))


@pytest.fixture
def nl_faults() -> Iterator[Faults]:
    """Build fault plans and faulty Conns: ``nl_faults.conn(nl_faults.kata_rule())``."""
    yield from _closing(Faults())


class Replay(_Handout):
    """The ``nl_replay`` helper; relative paths are taken from the test file's directory."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def _path(self, path: str | Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.base / p

    def __call__(self, path: str | Path, *, ignore_seq: bool = False) -> Conn:
        """A Conn that replays the recording at ``path``."""
        from .faults.replay import replay_conn

        return self._keep(replay_conn(self._path(path), ignore_seq=ignore_seq))

    def record(self, path: str | Path, lab: KernelLab, **socket_options: Any) -> Conn:
        """A Conn in ``lab``'s namespace that records its exchanges to ``path``
        (``trace=True``: as a TRACE, the ``nlcore record`` format)."""
        from .faults.replay import recording_conn

        return self._keep(recording_conn(self._path(path), ns=lab.ns, **socket_options))

    def trace(self, path: str | Path, *rules: str, **options: Any) -> Conn:
        """A Conn answered from the TRACE at ``path`` (from ``nlcore record`` or
        ``record(..., trace=True)``); ``rules`` and ``options`` as ``nlcore replay``'s."""
        from .faults.tracetransport import TraceTransport
        from .net.conn import Conn

        return self._keep(Conn(TraceTransport(self._path(path), rules, **options)))


@pytest.fixture
def nl_replay(request: pytest.FixtureRequest) -> Iterator[Replay]:
    """``nl_replay(path)`` -> a Conn replaying a recording made with ``nl_replay.record``."""
    yield from _closing(Replay(Path(str(request.path)).parent))


__all__ = ["SKIP_PREFIX", "Faults", "Replay", "nl_faults", "nl_netns", "nl_replay"]
