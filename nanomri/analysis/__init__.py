"""Analysis of nanomri data: arrays in, arrays out, SI units."""
