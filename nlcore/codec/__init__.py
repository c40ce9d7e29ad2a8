"""The codec: constants, values, specs, encoders, decoders, the error tree and text.

Bytes in, bytes out: no sockets, no namespaces, nothing from the layers above. Bottom to top:
:mod:`.consts`, :mod:`.values`, :mod:`.errors`, :mod:`.attrs` (attribute sets as data, the one
encoder and walker) and :mod:`.tables` (the declarations of every family), :mod:`._pure` /
:mod:`._backend` (the pure twin and the cffi extension behind one interface), :mod:`.msgs` and
:mod:`.decode`, the specs (:mod:`.spec` addresses, :mod:`.route`, :mod:`.neigh`, :mod:`.link`),
:mod:`.text`, :mod:`.wire` (encoders), :mod:`.batchfile` (iproute2 command syntax into specs).
See docs/codec.md.
"""
