"""Talking to a device: transport (bytes) -> protocol (lines) -> client (typed replies).

Runners start what sits behind a port: QEMU (`emulator`), the native `host`
firmware (`host`), Renode script generation (`renode`); `flash` uploads to boards.
"""
