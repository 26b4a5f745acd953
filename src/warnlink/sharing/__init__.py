"""Sharing between national nodes: the message vocabulary (``messages``), ids (``ids``), the signed envelope
with replay protection (``envelope``), releasability policy and subject scheme (``releasability``), the
hash-chained audit log (``audit``), and the NATS fabric (``fabric``, ``subjects``; imported on demand, so
the pure-Python parts never need a NATS client)."""
