"""New Era NE-1000 family syringe pumps: sans-IO protocol codec and a pty emulator for tests."""
