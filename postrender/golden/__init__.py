"""Golden cases: render, post-render, compare with committed expectations."""
