"""The rehearsal of a migration plan on a scratch copy of the live database.

``scratch``: the scratch database (created, or an alias the user gives) and its removal;
``isolation``: every alias pointed at it while the rehearsal runs; ``runner``: Django's
executor on it, every statement recorded and timed; ``compare``: the proofs (the copy equals
the live structure, a round trip restores it).
"""
