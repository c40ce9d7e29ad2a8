"""The codec: constants, values, specs, encoders, decoders, the error tree and text.

Bytes in, bytes out: no sockets, no namespaces, nothing from the layers above. Bottom to top:
:mod:`.consts`, :mod:`.values`, :mod:`.errors`, :mod:`._pure` / :mod:`._backend` (the pure
twin and the cffi extension behind one interface), :mod:`.decode`, :mod:`.spec`, :mod:`.text`,
:mod:`.wire` (encoders), :mod:`.batchfile` (iproute2 command syntax into specs).
"""
