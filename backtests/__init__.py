"""hypebt backtests: market data, A-share rules, the numba engine, grids, reports and the CLI."""
__version__ = "0.1.0"
