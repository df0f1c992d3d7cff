"""Code shared by every cryptopulse service: the wire contract, ports, settings and logging."""
