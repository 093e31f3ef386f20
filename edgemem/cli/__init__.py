"""The ``edgemem`` command line: thin shells over the Python API, one module per command group."""
