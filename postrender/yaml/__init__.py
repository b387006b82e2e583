"""YAML in and out: the stream of documents, the fast reader and writer, PyYAML behind them."""
