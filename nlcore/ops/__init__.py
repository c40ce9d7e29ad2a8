"""Operations on a connection: :mod:`.engine` (``apply``: batches, windows, one result per
request, policies) and :mod:`.link` (link helpers). Imports :mod:`nlcore.net` and
:mod:`nlcore.codec`, never faults, the CLI or the benchmarks.
"""
