"""Local development stack: emulator, API server and queue consumer."""
