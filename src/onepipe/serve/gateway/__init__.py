"""The local gateway: one port in front of MLServer, weighted/sticky/shadow routing, validation."""
