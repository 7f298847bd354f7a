"""monitor: keeps Truv verification data fresh on active loans, within Truv's refresh budgets."""

__version__ = "0.1.0"
