raise RuntimeError("this module fails at import, like a function whose init fails")
