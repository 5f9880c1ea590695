"""Stand-ins for what tests cannot reach from here, faked at the network boundary."""
