"""The load: Locust started as subprocesses (engine), its configuration, the capture
model behind the HDR capture plugin (gameday/plugin/capture.py), generator validity and
the capacity search. Locust's own side imports only light modules from here."""
