"""Sardana Pool controllers (the PoolPath folder), also importable as `nanomri.controllers`
for what they share."""
