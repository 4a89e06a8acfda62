"""The built-in fault injectors, each found through the ``chaosgate.injectors`` entry points."""
