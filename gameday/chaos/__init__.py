"""Fault injection: Chaos Toolkit providers (faults, probes, processes), the sidecar
that runs `chaos run` beside the load, suites and the matrix. The Toxiproxy client
they drive lives below both chaos and the stack, in `gameday.toxiproxy`."""
