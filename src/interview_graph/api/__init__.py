"""The real-time WebSocket service: protocol, transport, interview runners, auth, logs."""
