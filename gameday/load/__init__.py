"""The load: Locust started as subprocesses (engine), its configuration, the capture
model behind the HDR capture plugin (scenarios/capture.py), generator validity and
the capacity search. Locust's own side imports only light modules from here."""
