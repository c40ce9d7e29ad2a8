"""The socket layer: :mod:`.transport` (the only code that makes netlink syscalls, and its
fake), :mod:`.conn` (sequence numbers, send, collect, sender checks) and :mod:`.netns`
(namespaces). Imports only :mod:`nlcore.codec`.
"""
