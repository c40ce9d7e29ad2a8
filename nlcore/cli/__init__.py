"""The ``nlcore`` command, one module per object: :mod:`.main` (options and dispatch),
:mod:`.addr`, :mod:`.batch`, :mod:`.decode`, :mod:`.show`, and :mod:`.common` (what they share).

The package sits on top of everything else; nothing below imports it.
"""
