"""The kiosk service: the touch-screen page and an OpenAI-compatible API, on loopback.

``app`` builds the Starlette application, ``runtime`` holds the engine, memory and queue and the
threads they run on, ``server`` runs it under uvicorn (in the foreground for ``edgemem serve``, in
a thread for tests and benchmarks). See docs/deploy.md for the kiosk set-up.
"""
