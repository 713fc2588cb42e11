"""Example user code: what bringing your own network to pamkit looks like (used by ``pamkit demo``)."""

OWN_NETWORK = "pamkit.examples.own_network:TinyCNN"  # how a user names a class: its import path
