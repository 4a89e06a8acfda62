"""How a system under test is started, located, proxied and torn down."""
