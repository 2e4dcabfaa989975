"""Simulated worlds: the physics of sensor and sample behind every simulated driver."""
